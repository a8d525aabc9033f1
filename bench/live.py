"""live: many open seat maps on one showtime (the booking service's `seat-events` stream, one
connection each, mostly idle), while a customer holds seats one after another (and lets each go
again). Reports how many listeners stayed connected and how long each hold took to reach each
of them (from the moment the hold was sent until the listener read the change)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp

from bench.load import CpuMeter, Recorder, latency_ms
from bench.options import Context

CHANGES = 20
CHANGE_EVERY_SECONDS = 0.25


class Listener:
    """One open seat map: when it heard each seat's change."""

    def __init__(self) -> None:
        self.heard: dict[str, float] = {}
        self.snapshot = asyncio.Event()
        self.failed: str | None = None

    async def follow(self, session: aiohttp.ClientSession, url: str) -> None:
        try:
            async with session.get(url) as response:
                if response.status != 200:
                    self.failed = f"status {response.status}"
                    self.snapshot.set()
                    return
                async for raw in response.content:
                    line = raw.decode()
                    if not line.startswith("data: "):
                        continue
                    now = time.perf_counter()
                    if not self.snapshot.is_set():
                        self.snapshot.set()
                        continue
                    for seat in json.loads(line[6:])["seats"]:
                        self.heard.setdefault(seat, now)
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.failed = type(exc).__name__
            self.snapshot.set()


async def run(ctx: Context) -> tuple[dict[str, Any], list[Recorder]]:
    listeners_wanted = ctx.opts.clients_for("live")[0]
    show = await ctx.catalog.showtime(ctx.opts.halls[0])
    customer = (await ctx.catalog.ensure_customers(1))[0]
    status, layout = await ctx.http.call("GET", f"/api/movies/seats/{show['theater_id']}")
    seats = [seat["id"] for seat in layout][:CHANGES] if status == 200 else []
    url = f"{ctx.http.base_url}/api/bookings/showtimes/{show['id']}/seat-events"
    rec = Recorder("live")
    meter = CpuMeter()
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0),
        timeout=aiohttp.ClientTimeout(total=None, sock_read=120),
        trust_env=False,
    )
    listeners = [Listener() for _ in range(listeners_wanted)]
    tasks = [asyncio.create_task(listener.follow(session, url)) for listener in listeners]
    try:
        connect_started = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(x.snapshot.wait() for x in listeners)), 120)
        connect_seconds = time.perf_counter() - connect_started
        sent: dict[str, float] = {}
        for seat in seats:
            body = {"showtime_id": show["id"], "seat_ids": [seat]}
            sent[seat] = time.perf_counter()
            await ctx.http.call(
                "POST",
                "/api/bookings/seats/hold",
                rec=rec,
                step="hold",
                token=customer.token,
                json_body=body,
            )
            await asyncio.sleep(CHANGE_EVERY_SECONDS)
            # Let go again: one customer may hold only so many seats at once.
            await ctx.http.call(
                "POST",
                "/api/bookings/seats/release",
                rec=rec,
                step="release",
                token=customer.token,
                json_body=body,
            )
        await asyncio.sleep(2)  # the last change's stragglers
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await session.close()
    connected = [listener for listener in listeners if listener.failed is None]
    delays = [
        listener.heard[seat] - at
        for listener in connected
        for seat, at in sent.items()
        if seat in listener.heard
    ]
    missed = sum(1 for listener in connected for seat in sent if seat not in listener.heard)
    result = {
        "listeners": listeners_wanted,
        "connected": len(connected),
        "failed": sorted({listener.failed for listener in listeners if listener.failed}),
        "seconds_to_connect_all": round(connect_seconds, 2),
        "changes": len(sent),
        "deliveries": len(delays),
        "missed_deliveries": missed,
        "delivery_ms": latency_ms(delays),
        "status_5xx": sum(1 for s in rec.samples if s.status >= 500),
        "loadgen_cpu": meter.report(),
    }
    return result, [rec]
