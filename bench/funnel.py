"""funnel: the whole way of one customer, over and over for `--duration` seconds, each time a new
customer: register → login → hold the best seats → book → pay, then watch (polling every ~10 ms)
the booking until it is confirmed and the notices until one names it. What it measures is how
long the saga and the events take after the payment's response: to `confirmed`, and to the
notice."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

from bench.load import CpuMeter, Recorder, all_steps, clients, latency_ms, status_counts
from bench.options import Context

POLL_S = 0.01
GIVE_UP_S = 15.0
SOLD_OUT = "sold out"  # a booking not confirmed (or not notified) by then is counted as missing


async def watch(poll: Callable[[], Any], deadline: float) -> float | None:
    """Poll until it says yes; the moment (perf_counter) of the answer that did, or None."""
    while time.perf_counter() < deadline:
        if await poll():
            return time.perf_counter()
        await asyncio.sleep(POLL_S)
    return None


async def follow(
    ctx: Context, rec: Recorder, booking_id: str, token: str, paid: float
) -> tuple[float | None, float | None]:
    """Watch one paid booking: when it read `confirmed`, and when a notice named it."""

    async def confirmed() -> bool:
        status, body = await ctx.http.call(
            "GET",
            f"/api/bookings/bookings/{booking_id}",
            rec=rec,
            step="poll_booking",
            token=token,
        )
        return status == 200 and body.get("status") == "confirmed"

    async def notified() -> bool:
        status, body = await ctx.http.call(
            "GET",
            "/api/notifications/notifications",
            rec=rec,
            step="poll_notifications",
            token=token,
        )
        return status == 200 and any(str(x.get("booking_id")) == booking_id for x in body)

    deadline = paid + GIVE_UP_S
    seen = await asyncio.gather(watch(confirmed, deadline), watch(notified, deadline))
    return seen[0], seen[1]


async def take_seats(
    ctx: Context, rec: Recorder, showtime_id: str, token: str
) -> dict[str, Any] | str | None:
    """Hold the best 1–2 seats (one request) → book, trying again (up to 5 times) when others
    were quicker; the booking, SOLD_OUT, or None."""
    for _ in range(5):
        count = random.randint(1, 2)
        status, held = await ctx.http.call(
            "POST",
            "/api/bookings/seats/hold-best",
            rec=rec,
            step="hold_best",
            token=token,
            json_body={"showtime_id": showtime_id, "count": count},
        )
        if status == 409 and isinstance(held, dict) and held.get("count") == 1:
            return SOLD_OUT  # not even one seat is free
        if status != 200:
            if status != 409:
                return None
            continue
        selection = {"showtime_id": showtime_id, "seat_ids": held["seat_ids"]}
        status, booking = await ctx.http.call(
            "POST",
            "/api/bookings/book",
            rec=rec,
            step="book",
            token=token,
            json_body=selection,
        )
        if status == 201:
            return booking
        await ctx.http.call(
            "POST",
            "/api/bookings/seats/release",
            rec=rec,
            step="release",
            token=token,
            json_body=selection,
        )
        if status != 409:
            return None
    return None
    return None


async def one_funnel(ctx: Context, count: int) -> tuple[dict[str, Any], Recorder]:
    show = await ctx.catalog.showtime(ctx.opts.big_hall)
    rec = Recorder(f"{count} clients")
    to_confirmed: list[float] = []
    to_notice: list[float] = []
    missing = {"confirmed": 0, "notified": 0}
    sold_out = False
    end = time.perf_counter() + ctx.opts.seconds
    http = ctx.http

    async def customer(i: int) -> None:
        nonlocal sold_out
        n = 0
        while time.perf_counter() < end and not sold_out:
            n += 1
            name = f"f{ctx.catalog.tag}c{i}n{n}{uuid.uuid4().hex[:4]}"
            email = f"{name}@bench.example.com"
            status, _ = await http.call(
                "POST",
                "/api/auth/register",
                rec=rec,
                step="register",
                json_body={"email": email, "username": name, "password": "Bench-Sale-2468!"},
            )
            status, login = await http.call(
                "POST",
                "/api/auth/token",
                rec=rec,
                step="login",
                form={"username": email, "password": "Bench-Sale-2468!"},
            )
            if status != 200:
                continue
            token = login["access_token"]
            booking = await take_seats(ctx, rec, show["id"], token)
            if booking is None or booking == SOLD_OUT:
                sold_out = booking == SOLD_OUT
                continue
            status, _ = await http.call(
                "POST",
                "/api/payments/process",
                rec=rec,
                step="pay",
                token=token,
                json_body={
                    "booking_id": booking["id"],
                    "payment_method": "credit_card",
                    "amount": booking["total_price"],
                },
                headers={"Idempotency-Key": uuid.uuid4().hex},
            )
            if status not in (200, 201):
                continue
            paid = time.perf_counter()

            seen = await follow(ctx, rec, booking["id"], token, paid)
            for moment, into, what in zip(
                seen, (to_confirmed, to_notice), ("confirmed", "notified"), strict=True
            ):
                if moment is None:
                    missing[what] += 1
                else:
                    into.append(moment - paid)

    meter = CpuMeter()
    rec.restart()
    started = time.perf_counter()
    await clients(count, customer)
    wall = time.perf_counter() - started
    result = {
        "clients": count,
        "hall_seats": ctx.opts.big_hall,
        "seconds": round(wall, 3),
        "funnels_paid": len(to_confirmed) + missing["confirmed"],
        "payment_to_confirmed_ms": latency_ms(to_confirmed),
        "payment_to_notification_ms": latency_ms(to_notice),
        "never_confirmed": missing["confirmed"],
        "never_notified": missing["notified"],
        "poll_interval_ms": POLL_S * 1000,
        "hall_sold_out": sold_out,
        **status_counts(rec),
        "steps": all_steps(rec, wall),
        "loadgen_cpu": meter.report(),
    }
    return result, rec


async def run(ctx: Context) -> tuple[dict[str, Any], list[Recorder]]:
    runs, recorders = [], []
    for count in ctx.opts.clients_for("funnel"):
        result, rec = await one_funnel(ctx, count)
        runs.append(result)
        recorders.append(rec)
    return {"runs": runs}, recorders
