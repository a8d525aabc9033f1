"""Benchmark: N customers each holding a DIFFERENT seat of one showtime at the same moment.

Baseline (measured in the same run, same Redis): the design's section 6.1 pattern, a
showtime-wide `SET lock:showtime:<id> NX EX` released with a bare DEL. Candidate: boxoffice's
per-seat holds (`boxoffice.seatboard.RedisSeatBoard`, one Lua script per request).

Prints JSON: per approach the share of customers who got their seat (every one should: no two
wanted the same seat) and the median/p95 latency; then the ratios. Machines here are shared and
noisy, so quote the ratios and medians, and run it more than once.

    .venv/bin/python bench/seat_holds.py [--customers 200] [--rounds 5] [--redis URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid

from redis.asyncio import Redis

from boxoffice.seatboard import RedisSeatBoard


async def design_showtime_lock(redis: Redis, showtime: str, seat: str, prefix: str) -> bool:
    """Design 6.1: lock the whole showtime, do the work, DEL the lock (anyone's lock)."""
    key = f"{prefix}lock:showtime:{showtime}"
    if not await redis.set(key, "locked", nx=True, ex=10):
        return False  # "Seats being booked by another user": a 409 for a free seat
    try:
        await redis.set(f"{prefix}seat:{showtime}:{seat}", "held", ex=600)
    finally:
        await redis.delete(key)
    return True


async def per_seat_holds(holds: RedisSeatBoard, showtime: str, seat: str, owner: str) -> bool:
    return (await holds.hold(showtime, [seat], owner, 600)).ok


async def one_round(redis: Redis, customers: int, approach: str) -> tuple[float, list[float]]:
    prefix = f"bench:{uuid.uuid4().hex[:8]}:"
    showtime = str(uuid.uuid4())
    holds = RedisSeatBoard(redis, prefix)
    latencies: list[float] = []

    async def customer(i: int) -> bool:
        seat, owner = str(uuid.uuid4()), str(uuid.uuid4())
        started = time.perf_counter()
        if approach == "design_showtime_lock":
            ok = await design_showtime_lock(redis, showtime, seat, prefix)
        else:
            ok = await per_seat_holds(holds, showtime, seat, owner)
        latencies.append(time.perf_counter() - started)
        return ok

    results = await asyncio.gather(*(customer(i) for i in range(customers)))
    keys = [k async for k in redis.scan_iter(match=f"{prefix}*", count=1000)]
    if keys:
        await redis.delete(*keys)
    return sum(results) / customers, latencies


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    redis = Redis.from_url(args.redis, max_connections=args.customers)
    report: dict[str, dict[str, float]] = {}
    try:
        for approach in ("design_showtime_lock", "per_seat_holds"):
            success, latencies = [], []
            for _ in range(args.rounds):
                share, lat = await one_round(redis, args.customers, approach)
                success.append(share)
                latencies.extend(lat)
            latencies.sort()
            report[approach] = {
                "customers_who_got_their_free_seat": round(statistics.median(success), 4),
                "median_ms": round(statistics.median(latencies) * 1000, 3),
                "p95_ms": round(latencies[int(len(latencies) * 0.95) - 1] * 1000, 3),
            }
    finally:
        await redis.aclose()
    base, ours = report["design_showtime_lock"], report["per_seat_holds"]
    print(
        json.dumps(
            {
                "benchmark": "seat_holds",
                "customers": args.customers,
                "rounds": args.rounds,
                "results": report,
                "ratios": {
                    "success_per_seat_over_showtime_lock": round(
                        ours["customers_who_got_their_free_seat"]
                        / max(base["customers_who_got_their_free_seat"], 1e-9),
                        2,
                    ),
                    "median_latency_per_seat_over_showtime_lock": round(
                        ours["median_ms"] / max(base["median_ms"], 1e-9), 2
                    ),
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
