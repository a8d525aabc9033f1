"""flash-sale: every customer wants a seat of one showtime of the big hall, at once, until it is
sold out. Each loops hold → book → pay for 1–4 seats; half hold the best seats in one request
(`hold-best`), half pick at random from the seat map they last read (read again after a 409).
Afterwards the booking database must show every seat sold, none twice."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from typing import Any

from bench.catalog import Customer
from bench.invariant import check_seats
from bench.load import CpuMeter, Recorder, all_steps, clients, status_counts
from bench.options import Context
from bench.processes import cpu_by_part, cpu_per, server_cpu, until_idle

WAIT_FOR_HOLDS_S = 0.02  # when only other customers' holds are left: look again soon


class Shopper:
    """One customer of the sale."""

    def __init__(
        self,
        ctx: Context,
        rec: Recorder,
        show: dict[str, Any],
        who: Customer,
        picks_best: bool,
        deadline: float,
    ) -> None:
        self.ctx, self.rec, self.show, self.who = ctx, rec, show, who
        self.picks_best = picks_best
        self.deadline = deadline
        self.seat_map: dict[str, str] | None = None  # seat id -> status, as last read
        self.booked_seats = 0
        self.last_booked_at: float | None = None

    async def get(self, step: str, path: str) -> tuple[int, Any]:
        return await self.ctx.http.call("GET", path, rec=self.rec, step=step, token=self.who.token)

    async def read_map(self) -> dict[str, str]:
        status, body = await self.get(
            "seat_map", f"/api/movies/showtimes/{self.show['id']}/available-seats"
        )
        self.seat_map = {s["id"]: s["status"] for s in body["seats"]} if status == 200 else {}
        return self.seat_map

    async def sold_out(self) -> bool:
        """Nothing free and nothing held by others that could still come free."""
        statuses = set((await self.read_map()).values())
        if "available" in statuses:
            return False
        if "held" in statuses or "mine" in statuses:
            await asyncio.sleep(WAIT_FOR_HOLDS_S)
            return False
        return True

    async def hold_best(self, count: int) -> list[str] | None:
        """The best seats, held: `count` side by side, else one; [] to try again, None when
        the sale is over for this customer."""
        for n in (count, 1) if count > 1 else (1,):
            status, body = await self.post(
                "hold_best",
                "/api/bookings/seats/hold-best",
                {"showtime_id": self.show["id"], "count": n},
            )
            if status == 200:
                return [str(s) for s in body["seat_ids"]]
            if status != 409:
                return []
        return None if await self.sold_out() else []

    async def pick(self, count: int) -> list[str] | None:
        """Seats to try, [] to try again, None when the sale is over for this customer."""
        if self.seat_map is None:
            await self.read_map()
        free = [seat for seat, state in (self.seat_map or {}).items() if state == "available"]
        if not free:
            return None if await self.sold_out() else []
        return random.sample(free, min(count, len(free)))

    async def post(
        self, step: str, path: str, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        return await self.ctx.http.call(
            "POST",
            path,
            rec=self.rec,
            step=step,
            token=self.who.token,
            json_body=body,
            headers=headers,
        )

    async def run(self) -> None:
        while time.perf_counter() < self.deadline:
            count = random.randint(1, 4)
            seats = await (self.hold_best(count) if self.picks_best else self.pick(count))
            if seats is None:
                return
            if not seats:
                continue
            selection = {"showtime_id": self.show["id"], "seat_ids": seats}
            if not self.picks_best:
                status, _ = await self.post("hold", "/api/bookings/seats/hold", selection)
                if status != 200:
                    self.seat_map = None if status == 409 else self.seat_map
                    continue
            status, booking = await self.post("book", "/api/bookings/book", selection)
            if status != 201:
                # Let go of what we held, so nobody waits for it.
                await self.post("release", "/api/bookings/seats/release", selection)
                self.seat_map = None if status == 409 else self.seat_map
                continue
            self.booked_seats += len(seats)
            self.last_booked_at = time.perf_counter()
            if self.seat_map is not None:
                self.seat_map.update(dict.fromkeys(seats, "booked"))
            await self.post(
                "pay",
                "/api/payments/process",
                {
                    "booking_id": booking["id"],
                    "payment_method": "credit_card",
                    "amount": booking["total_price"],
                },
                headers={"Idempotency-Key": uuid.uuid4().hex},
            )


async def one_sale(ctx: Context, count: int) -> tuple[dict[str, Any], Recorder]:
    seats = ctx.opts.big_hall
    show = await ctx.catalog.showtime(seats)
    customers = await ctx.catalog.ensure_customers(count)
    rec = Recorder(f"{count} clients")
    deadline = time.perf_counter() + ctx.opts.profile.sell_out_timeout
    shoppers = [
        Shopper(ctx, rec, show, customers[i], picks_best=i % 2 == 0, deadline=deadline)
        for i in range(count)
    ]
    parts = ctx.parts() if ctx.parts else {}
    cpu_before = cpu_by_part(parts)
    servers_before = server_cpu()
    meter = CpuMeter()
    rec.restart()
    started = time.perf_counter()
    await clients(count, lambda i: shoppers[i].run())
    wall = time.perf_counter() - started
    cpu = meter.report()
    ends = [s.last_booked_at for s in shoppers if s.last_booked_at]
    sell_out_s = (max(ends) - started) if ends else None
    booked = sum(s.booked_seats for s in shoppers)
    bookings = rec.count(lambda s: s.step == "book" and s.status == 201)
    invariant = await check_seats(
        show["id"],
        show["total_seats"],
        database=ctx.database,
        http=ctx.http,
        admin=ctx.catalog.admin,
        expect_sold=show["total_seats"],
    )
    # The services' CPU per booking, the work the sale left behind (confirmations, e-mails)
    # included: read once the system is idle again.
    idle_after = await until_idle(parts, 60.0) if parts else None
    service_cpu: dict[str, Any] = {"skipped": "not the harness's own system"}
    if parts:
        waited = f"{idle_after:.0f}" if idle_after is not None else "60+"
        service_cpu = {
            "ms_per_booking": cpu_per(cpu_before, cpu_by_part(parts), bookings),
            # Shared with anything else on the machine: read beside the system's own.
            "servers_ms_per_booking": cpu_per(servers_before, server_cpu(), bookings),
            "read": f"when idle again, {waited} s after the run",
        }
    per = sell_out_s or wall
    result = {
        "clients": count,
        "hall_seats": seats,
        "showtime_id": show["id"],
        "sold_out": invariant.get("seats_sold") == show["total_seats"],
        "time_to_sell_out_s": round(sell_out_s, 3) if sell_out_s else None,
        "wall_s": round(wall, 3),
        "bookings": bookings,
        "seats_booked": booked,
        "payments_ok": rec.count(lambda s: s.step == "pay" and s.status in (200, 201)),
        "bookings_per_s": round(bookings / per, 2) if per else None,
        "seats_per_s": round(booked / per, 2) if per else None,
        **status_counts(rec),
        "steps": all_steps(rec, wall),
        "invariant": invariant,
        "loadgen_cpu": cpu,
        "service_cpu": service_cpu,
    }
    return result, rec


async def run(ctx: Context) -> tuple[dict[str, Any], list[Recorder]]:
    runs, recorders = [], []
    for count in ctx.opts.clients_for("flash-sale"):
        result, rec = await one_sale(ctx, count)
        runs.append(result)
        recorders.append(rec)
    return {"runs": runs}, recorders
