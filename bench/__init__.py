"""boxoffice's benchmarks: the `boxoffice bench SCENARIO` harness (an asyncio load generator on
aiohttp, with ceilings measured in the same run), plus the older stand-alone `seat_holds.py` and
`locustfile.py`. See bench/README.md."""
