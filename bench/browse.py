"""browse: the reads of a busy evening for `--duration` seconds (movies, showtimes, the seat maps
of every hall, best seats), half the customers anonymous and half signed in; then one focused
run per seat map (only that endpoint), to set beside the bare ping through the same gateway."""

from __future__ import annotations

from typing import Any

from bench.load import CpuMeter, Recorder, all_steps, hammer, status_counts
from bench.options import Context


def seat_map_step(seats: int) -> str:
    return f"seat_map_{seats}"


async def endpoints(ctx: Context) -> dict[str, str]:
    """Step name -> path; one fresh showtime per hall."""
    paths = {"movies": "/api/movies/movies", "showtimes": "/api/movies/showtimes"}
    shows = {seats: await ctx.catalog.showtime(seats) for seats in ctx.opts.halls}
    for seats, show in shows.items():
        paths[seat_map_step(seats)] = f"/api/movies/showtimes/{show['id']}/available-seats"
    big = shows[ctx.opts.big_hall]["id"]
    paths["best_seats"] = f"/api/bookings/showtimes/{big}/best-seats?count=2"
    return paths


async def read_for(
    ctx: Context, label: str, count: int, paths: dict[str, str]
) -> tuple[dict[str, Any], Recorder]:
    """`count` customers reading `paths` in turn for the run's duration."""
    customers = await ctx.catalog.ensure_customers(count // 2 + 1)
    steps = list(paths.items())

    def pick(i: int, n: int) -> tuple[str, str, str | None]:
        step, path = steps[(i + n) % len(steps)]
        # Even customers browse anonymously, odd ones signed in.
        return step, path, customers[i // 2].token if i % 2 else None

    rec = Recorder(label)
    meter = CpuMeter()
    wall = await hammer(ctx.http, rec, count, ctx.opts.seconds, pick)
    result = {
        "clients": count,
        "seconds": round(wall, 3),
        "requests": len(rec.samples),
        "req_per_s": round(len(rec.samples) / wall, 2),
        **status_counts(rec),
        "endpoints": all_steps(rec, wall),
        "loadgen_cpu": meter.report(),
    }
    return result, rec


async def run(ctx: Context) -> tuple[dict[str, Any], list[Recorder]]:
    paths = await endpoints(ctx)
    mixed, recorders = [], []
    for count in ctx.opts.clients_for("browse"):
        result, rec = await read_for(ctx, f"mixed {count} clients", count, paths)
        mixed.append(result)
        recorders.append(rec)
    focused = []
    count = ctx.opts.focus_clients
    for seats in ctx.opts.halls:
        step = seat_map_step(seats)
        result, rec = await read_for(ctx, f"{step} {count} clients", count, {step: paths[step]})
        focused.append({"endpoint": step, "hall_seats": seats, **result})
        recorders.append(rec)
    return {"mixed": mixed, "focused": focused}, recorders
