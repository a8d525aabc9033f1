"""What one seat-map read of a busy 2,000-seat board costs the reading process, whole versus
kept up to date from the change log (issue 9). CPU seconds of this process, so the figure
holds on a shared machine; prints JSON.

    .venv/bin/python bench/seat_snapshot.py [--reads 400] [--redis redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid

from redis.asyncio import Redis

from boxoffice.seatboard import RedisSeatBoard


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reads", type=int, default=400)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    prefix = f"bench{uuid.uuid4().hex[:8]}:"
    redis = Redis.from_url(args.redis)
    show = str(uuid.uuid4())
    seats = [str(uuid.uuid4()) for _ in range(2000)]
    writer = RedisSeatBoard(redis, prefix)
    await writer.install(show, {seat: "B" for seat in seats[:1000]})  # half the hall sold
    results = {}
    try:
        for how in ("whole", "kept"):
            reader = RedisSeatBoard(redis, prefix)
            await reader.snapshot(show)
            cpu, wall = time.process_time(), time.perf_counter()
            for i in range(args.reads):
                # one sale between reads, as in a rush (the writer's CPU is not counted below)
                w0 = time.process_time()
                await writer.hold(show, [seats[1000 + i]], "bench", 60)
                write_cpu = time.process_time() - w0
                cpu += write_cpu
                if how == "whole":
                    reader._last.clear()  # what every read did before
                await reader.snapshot(show)
            results[how] = {
                "cpu_ms_per_read": round((time.process_time() - cpu) / args.reads * 1000, 3),
                "wall_ms_per_read_and_write": round(
                    (time.perf_counter() - wall) / args.reads * 1000, 3
                ),
            }
            await reader.aclose()
    finally:
        await writer.aclose()
        async for key in redis.scan_iter(f"{prefix}*"):
            await redis.delete(key)
        await redis.aclose()
    results["cpu_ratio_whole_to_kept"] = round(
        results["whole"]["cpu_ms_per_read"] / results["kept"]["cpu_ms_per_read"], 1
    )
    print(
        json.dumps(
            {
                "benchmark": "seat_snapshot",
                "board_seats": 2000,
                "non_free": 1000,
                "reads": args.reads,
                **results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
