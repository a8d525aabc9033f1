"""The steady load of the fault suite, run as a second process against the gateway:

    python -m tests.faults.load BASE_URL --admin EMAIL --password PW --out load.ndjson \
        [--clients 6] [--control control.json]

Each client is a customer who, over and over, holds a free seat, books it and pays for it
(`Idempotency-Key` a fresh UUID). Every answer is one line of `--out` (ndjson, flushed at
once, so a line is on disk before the next request starts): the step, status, latency and,
for every 2xx, what the system promised (the booking's id and total, the payment's id and
status), which the fault tests then look for in the databases. Other lines: `ready` after
setup, `summary` at the end.

`--control` names a JSON file of switches the clients keep re-reading: `"card_token":
"tok_timeout"` makes every payment meet a card gateway slower than its timeout; `"paused": N`
(N > 0) stops new purchases, and once none is in flight a `{"kind": "paused", "pause": N}`
line is written (the fault tests look at a quiet system); `"paused": 0` goes on. SIGTERM (or
SIGINT) ends the run: no new purchase starts, those in flight finish (bounded), then the
summary is written.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from bench.catalog import Catalog, SetupFailed
from bench.load import Http

HALL_SEATS = 2600  # 26 rows of 100, the largest hall the API allows
REFILL_BELOW = 200  # free seats left before the next showtime is scheduled
STOP_GRACE_SECONDS = 20.0
PAUSE_AFTER_FAILURE = 0.2  # a client that failed waits a little (no busy loop on a dead part)
CONTROL_SECONDS = 0.05


class Recorder:
    """Appends one JSON line per answer; counts them."""

    def __init__(self, path: Path) -> None:
        self.file = path.open("a", buffering=1)
        self.counts: Counter[str] = Counter()

    def line(self, **fields: Any) -> None:
        fields.setdefault("t", time.time())
        self.file.write(json.dumps(fields, separators=(",", ":")) + "\n")

    def answer(self, step: str, status: int, started: float, **fields: Any) -> None:
        self.counts[f"{step} {status}"] += 1
        self.line(
            step=step,
            status=status,
            t0=round(started, 4),
            ms=round((time.time() - started) * 1000, 1),
            **fields,
        )

    def close(self) -> None:
        self.file.close()


class Control:
    """The control file's switches, re-read at most every CONTROL_SECONDS."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.read_at = 0.0
        self.values: dict[str, Any] = {}

    def get(self, key: str) -> Any:
        now = time.monotonic()
        if self.path is not None and now - self.read_at > CONTROL_SECONDS:
            self.read_at = now
            with contextlib.suppress(OSError, ValueError):
                self.values = dict(json.loads(self.path.read_text() or "{}"))
        return self.values.get(key)


class Seats:
    """Free seats of the load's showtimes, handed out one at a time (never twice)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.free: list[tuple[str, str]] = []  # (showtime_id, seat_id)
        self.showtimes: list[str] = []
        self.layout: list[str] = []
        self._refill = asyncio.Lock()

    async def add_showtime(self) -> None:
        show = await self.catalog.showtime(HALL_SEATS)
        if not self.layout:
            hall = self.catalog.halls[HALL_SEATS]["id"]
            status, seats = await self.catalog.http.call("GET", f"/api/movies/seats/{hall}")
            if status != 200:
                raise SetupFailed(f"seats of the hall: HTTP {status}")
            self.layout = [s["id"] for s in seats]
        self.showtimes.append(show["id"])
        # Front rows last: a customer's seat anywhere will do.
        self.free = [(show["id"], seat) for seat in reversed(self.layout)] + self.free

    async def take(self) -> tuple[str, str] | None:
        if len(self.free) < REFILL_BELOW and not self._refill.locked():
            async with self._refill:
                with contextlib.suppress(Exception):
                    await self.add_showtime()  # the movie service may be down: next time
        return self.free.pop() if self.free else None


async def new_customer(catalog: Catalog, client: int, rec: Recorder) -> Any:
    """A customer registered and logged in, trying until auth answers (or give up: None)."""
    for attempt in range(100):
        name = f"fl{catalog.tag}c{client}{uuid.uuid4().hex[:6]}"
        started = time.time()
        try:
            customer = await catalog.register(name)
        except SetupFailed as exc:
            rec.answer("register", 0, started, error=str(exc)[:200])
            await asyncio.sleep(min(0.2 * (attempt + 1), 2.0))
            continue
        rec.answer("register", 200, started, user_id=customer.user_id)
        return customer
    return None


async def purchase(
    http: Http, rec: Recorder, seats: Seats, control: Control, client: int, customer: Any
) -> str:
    """One hold → book → pay; "ok", "failed", "switch" (take another customer) or "sold-out"."""
    taken = await seats.take()
    if taken is None:
        return "sold-out"
    showtime_id, seat_id = taken
    selection = {"showtime_id": showtime_id, "seat_ids": [seat_id]}
    token = customer.token
    common = {"client": client, "user_id": customer.user_id}

    started = time.time()
    status, body = await http.call(
        "POST", "/api/bookings/seats/hold", token=token, json_body=selection
    )
    rec.answer("hold", status, started, showtime_id=showtime_id, seat_id=seat_id, **common)
    if not 200 <= status < 300:
        await release(http, rec, token, selection, common)
        too_many = status == 409 and "hold" in str((body or {}).get("detail", "")).lower()
        return "switch" if status in (401, 403) or too_many else "failed"

    started = time.time()
    status, booking = await http.call(
        "POST", "/api/bookings/book", token=token, json_body=selection
    )
    if not 200 <= status < 300:
        rec.answer("book", status, started, showtime_id=showtime_id, seat_id=seat_id, **common)
        await release(http, rec, token, selection, common)
        return "failed"
    rec.answer(
        "book",
        status,
        started,
        booking_id=booking["id"],
        booking_status=booking["status"],
        total_price=booking["total_price"],
        showtime_id=showtime_id,
        seat_id=seat_id,
        **common,
    )

    card = control.get("card_token")
    body_out = {
        "booking_id": booking["id"],
        "payment_method": "credit_card",
        "amount": booking["total_price"],
        **({"payment_token": card} if card else {}),
    }
    started = time.time()
    status, payment = await http.call(
        "POST",
        "/api/payments/process",
        token=token,
        json_body=body_out,
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    fields: dict[str, Any] = {"booking_id": booking["id"], "card": card}
    if isinstance(payment, dict):
        if 200 <= status < 300:
            fields |= {
                "payment_id": payment["id"],
                "payment_status": payment["status"],
                "amount": payment["amount"],
            }
        else:
            fields |= {
                "error_type": payment.get("error_type"),
                "payment_id": payment.get("payment_id"),
            }
    rec.answer("pay", status, started, **fields, **common)
    return "ok" if 200 <= status < 300 else "failed"


async def release(
    http: Http, rec: Recorder, token: str, selection: dict[str, Any], common: dict[str, Any]
) -> None:
    """Let a seat go that could not be booked (best effort: its hold expires anyway)."""
    started = time.time()
    status, _ = await http.call(
        "POST", "/api/bookings/seats/release", token=token, json_body=selection
    )
    rec.answer("release", status, started, **common)


class Busy:
    """How many clients are in the middle of a purchase."""

    count = 0


async def client_loop(
    i: int,
    catalog: Catalog,
    rec: Recorder,
    seats: Seats,
    control: Control,
    stopping: asyncio.Event,
    busy: Busy,
) -> None:
    http = catalog.http
    customer = None
    while not stopping.is_set():
        if control.get("paused"):
            await asyncio.sleep(CONTROL_SECONDS)
            continue
        if customer is None:
            customer = await new_customer(catalog, i, rec)
            if customer is None:
                return
            continue
        busy.count += 1
        try:
            outcome = await purchase(http, rec, seats, control, i, customer)
        finally:
            busy.count -= 1
        if outcome == "sold-out":
            await asyncio.sleep(1)
        elif outcome == "switch":
            customer = None
        elif outcome == "failed":
            await asyncio.sleep(PAUSE_AFTER_FAILURE)


async def announce_pauses(
    rec: Recorder, control: Control, stopping: asyncio.Event, busy: Busy
) -> None:
    """Write a `paused` line (with the pause's number) once no purchase is in flight."""
    announced = None
    while not stopping.is_set():
        pause = control.get("paused")
        if pause and pause != announced and busy.count == 0:
            rec.line(kind="paused", pause=pause)
            announced = pause
        await asyncio.sleep(CONTROL_SECONDS)


async def main(args: argparse.Namespace) -> int:
    rec = Recorder(Path(args.out))
    control = Control(Path(args.control) if args.control else None)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    async with Http(args.base_url, timeout=args.request_timeout) as http:
        try:
            catalog = await Catalog.login_admin(http, args.admin, args.password)
            catalog.tag = f"{uuid.uuid4().hex[:6]}"
            await catalog.create_movie()
            seats = Seats(catalog)
            await seats.add_showtime()
        except SetupFailed as exc:
            rec.line(kind="setup-failed", error=str(exc))
            rec.close()
            print(f"load: setup failed: {exc}", file=sys.stderr)
            return 2
        rec.line(kind="ready", clients=args.clients, showtimes=seats.showtimes)
        started = time.time()
        busy = Busy()
        tasks = [
            asyncio.create_task(client_loop(i, catalog, rec, seats, control, stopping, busy))
            for i in range(args.clients)
        ]
        tasks.append(asyncio.create_task(announce_pauses(rec, control, stopping, busy)))
        await stopping.wait()
        _, late = await asyncio.wait(tasks, timeout=STOP_GRACE_SECONDS)
        for task in late:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        rec.line(
            kind="summary",
            seconds=round(time.time() - started, 2),
            answers=dict(sorted(rec.counts.items())),
            unfinished=len(late),
            showtimes=seats.showtimes,
        )
    rec.close()
    return 0


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base_url")
    parser.add_argument("--admin", required=True, help="admin e-mail (creates the showtimes)")
    parser.add_argument("--password", required=True)
    parser.add_argument("--out", required=True, help="ndjson file of every answer")
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--control", help="JSON file of run-time switches (card_token)")
    parser.add_argument("--request-timeout", type=float, default=30.0)
    return parser.parse_args(argv)


if __name__ == "__main__":
    import uvloop

    sys.exit(uvloop.run(main(parse())))
