"""disjoint: N customers each book a *different* free seat of one showtime at the same moment
(a barrier, then one `POST /book` each). Rule 2 (no false conflicts) says every one succeeds."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from bench.invariant import check_seats
from bench.load import CpuMeter, Recorder, all_steps, clients, latency_ms, status_counts
from bench.options import Context


async def one_rush(ctx: Context, count: int) -> tuple[dict[str, Any], Recorder]:
    seats = ctx.opts.big_hall
    if count > seats:
        raise ValueError(f"disjoint: {count} clients need {count} seats; the hall has {seats}")
    show = await ctx.catalog.showtime(seats)
    customers = await ctx.catalog.ensure_customers(count)
    status, seat_map = await ctx.http.call(
        "GET", f"/api/movies/showtimes/{show['id']}/available-seats"
    )
    if status != 200:
        raise RuntimeError(f"disjoint: reading the seat map: HTTP {status}")
    free = [s["id"] for s in seat_map["seats"] if s["status"] == "available"]
    wanted = random.sample(free, count)
    rec = Recorder(f"{count} clients")
    ready = 0
    all_ready, go = asyncio.Event(), asyncio.Event()

    async def customer(i: int) -> None:
        nonlocal ready
        try:
            # A connection of its own, open before the barrier, so the rush measures booking
            # (liveness: readiness would ask the database, Redis and RabbitMQ of every client).
            await ctx.http.call("GET", "/api/bookings/health/live", parse=False)
        finally:
            ready += 1
            if ready == count:
                all_ready.set()
        await go.wait()
        await ctx.http.call(
            "POST",
            "/api/bookings/book",
            rec=rec,
            step="book",
            token=customers[i].token,
            json_body={"showtime_id": show["id"], "seat_ids": [wanted[i]]},
        )

    tasks = asyncio.gather(clients(count, customer))
    await all_ready.wait()
    meter = CpuMeter()
    rec.restart()
    started = time.perf_counter()
    go.set()
    await tasks
    wall = time.perf_counter() - started
    cpu = meter.report()
    ok = rec.count(lambda s: s.status == 201)
    invariant = await check_seats(
        show["id"],
        show["total_seats"],
        database=ctx.database,
        http=ctx.http,
        admin=ctx.catalog.admin,
        expect_sold=ok,
    )
    result = {
        "clients": count,
        "hall_seats": seats,
        "showtime_id": show["id"],
        "succeeded": ok,
        "success_rate": round(ok / count, 4),
        "wall_s": round(wall, 3),
        "bookings_per_s": round(ok / wall, 2) if wall else None,
        "latency_ms": latency_ms(s.latency for s in rec.samples),
        **status_counts(rec),
        "steps": all_steps(rec, wall),
        "invariant": invariant,
        "loadgen_cpu": cpu,
    }
    return result, rec


async def run(ctx: Context) -> tuple[dict[str, Any], list[Recorder]]:
    runs, recorders = [], []
    for count in ctx.opts.clients_for("disjoint"):
        result, rec = await one_rush(ctx, count)
        runs.append(result)
        recorders.append(rec)
    return {"runs": runs}, recorders
