"""funnel: the whole way of one customer, over and over for `--duration` seconds, each time a new
customer: register → login → hold the best seats → book → pay, then watch (polling every 100 ms,
a live page's pace) the booking until it is confirmed and the notices until one names it.

What it measures is how long the saga and the events take after the payment, on the services'
own clocks: from the payment's `payment_date` (set in the transaction that records
`payment.completed`) to the booking's `confirmed_at`, and to the `created_at` of the first notice
that names the booking. Beside them, what the customer observed: from the payment's response to
the poll answer that showed it, which adds up to one poll interval and the poll's own time in the
queue. Polling every 10 ms to make that small (as this scenario once did) put ~100 polls a second
on a saturated machine, which then slowed the saga it was timing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.load import CpuMeter, Recorder, all_steps, clients, latency_ms, status_counts
from bench.options import Context

POLL_S = 0.1
GIVE_UP_S = 15.0
SOLD_OUT = "sold out"  # a booking not confirmed (or not notified) by then is counted as missing


@dataclass
class Seen:
    """When the customer's poll first showed a fact (perf_counter), and when the service that
    owns it says it became true (its own timestamp, UTC)."""

    observed: float
    at: dt.datetime | None


def timestamp(value: Any) -> dt.datetime | None:
    """A service's ISO timestamp, or None when it is missing or unreadable."""
    try:
        return dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None


async def watch(poll: Callable[[], Any], deadline: float) -> Seen | None:
    """Poll until it answers a timestamp (or None for "yes, but no time given"); None if the
    deadline came first."""
    while time.perf_counter() < deadline:
        found, at = await poll()
        if found:
            return Seen(time.perf_counter(), at)
        await asyncio.sleep(POLL_S)
    return None


async def follow(
    ctx: Context, rec: Recorder, booking_id: str, token: str, paid: float
) -> tuple[Seen | None, Seen | None]:
    """Watch one paid booking: when it read `confirmed`, and when a notice named it."""

    async def confirmed() -> tuple[bool, dt.datetime | None]:
        status, body = await ctx.http.call(
            "GET",
            f"/api/bookings/bookings/{booking_id}",
            rec=rec,
            step="poll_booking",
            token=token,
        )
        if status == 200 and body.get("status") == "confirmed":
            return True, timestamp(body.get("confirmed_at"))
        return False, None

    async def notified() -> tuple[bool, dt.datetime | None]:
        status, body = await ctx.http.call(
            "GET",
            "/api/notifications/notifications",
            rec=rec,
            step="poll_notifications",
            token=token,
        )
        if status != 200:
            return False, None
        naming = [x for x in body if str(x.get("booking_id")) == booking_id]
        if not naming:
            return False, None
        return True, min((t for x in naming if (t := timestamp(x.get("created_at")))), default=None)

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


async def one_funnel(ctx: Context, count: int) -> tuple[dict[str, Any], Recorder]:
    show = await ctx.catalog.showtime(ctx.opts.big_hall)
    rec = Recorder(f"{count} clients")
    # On the services' clocks (the targets), and as the customer's polls observed them.
    to_confirmed: list[float] = []
    to_notice: list[float] = []
    observed_confirmed: list[float] = []
    observed_notice: list[float] = []
    untimed = 0  # facts seen without a readable timestamp (counted, not measured)
    missing = {"confirmed": 0, "notified": 0}
    sold_out = False
    end = time.perf_counter() + ctx.opts.seconds
    http = ctx.http

    async def customer(i: int) -> None:
        nonlocal sold_out, untimed
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
            status, payment = await http.call(
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
            paid_at = timestamp(payment.get("payment_date")) if isinstance(payment, dict) else None

            seen = await follow(ctx, rec, booking["id"], token, paid)
            for fact, into, observed, what in zip(
                seen,
                (to_confirmed, to_notice),
                (observed_confirmed, observed_notice),
                ("confirmed", "notified"),
                strict=True,
            ):
                if fact is None:
                    missing[what] += 1
                    continue
                observed.append(fact.observed - paid)
                if fact.at is None or paid_at is None:
                    untimed += 1
                else:
                    into.append((fact.at - paid_at).total_seconds())

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
        "clock": "the services' own timestamps: payment_date → confirmed_at, → the notice's "
        "created_at",
        "payment_to_confirmed_observed_ms": latency_ms(observed_confirmed),
        "payment_to_notification_observed_ms": latency_ms(observed_notice),
        "observed": "from the payment's response to the poll answer that showed it",
        "untimed": untimed,
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
