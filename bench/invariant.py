"""Rule 1 checked where it lives, after a run: no seat of a showtime is sold twice, and (after a
sell-out) every seat is sold. Read from the booking database directly (PostgreSQL in distributed
mode, the SQLite file in embedded mode); against a system the harness did not start (`--url`),
from the admin's view of the bookings API instead, and the result says so."""

from __future__ import annotations

import sqlite3
import uuid
from collections import Counter
from typing import Any

from bench.load import Http

LIVE = ("pending", "confirmed")


async def _postgres(dsn: str, showtime_id: str) -> Counter[str]:
    import asyncpg

    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        rows = await conn.fetch(
            "SELECT seat_id::text AS seat, count(*) AS n FROM booking_seats "
            "WHERE showtime_id = $1 AND status = ANY($2::text[]) GROUP BY seat_id",
            uuid.UUID(showtime_id),
            list(LIVE),
        )
        return Counter({row["seat"]: row["n"] for row in rows})
    finally:
        await conn.close()


def _sqlite(path: str, showtime_id: str) -> Counter[str]:
    # SQLAlchemy stores UUIDs on SQLite as 32 hex digits; accept the dashed form too.
    ids = (uuid.UUID(showtime_id).hex, str(uuid.UUID(showtime_id)))
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as conn:
        rows = conn.execute(
            "SELECT seat_id, count(*) FROM booking_seats WHERE showtime_id IN (?, ?) "
            "AND status IN (?, ?) GROUP BY seat_id",
            (*ids, *LIVE),
        ).fetchall()
    conn.close()
    return Counter({str(uuid.UUID(str(seat))): n for seat, n in rows})


async def _api(http: Http, admin: str, showtime_id: str) -> Counter[str]:
    seats: Counter[str] = Counter()
    offset = 0
    while True:
        status, page = await http.call(
            "GET",
            f"/api/bookings/bookings?scope=all&showtime_id={showtime_id}&limit=200&offset={offset}",
            token=admin,
        )
        if status != 200 or not isinstance(page, list):
            raise RuntimeError(f"listing bookings as admin: HTTP {status}: {str(page)[:200]}")
        for booking in page:
            if booking.get("status") in LIVE:
                seats.update(str(s) for s in booking.get("seat_ids", []))
        if len(page) < 200:
            return seats
        offset += 200


async def check_seats(
    showtime_id: str,
    capacity: int,
    *,
    database: tuple[str, str] | None,
    http: Http,
    admin: str,
    expect_sold: int | None,
) -> dict[str, Any]:
    """What the database says about one showtime's seats. `expect_sold`: how many seats must be
    sold (the capacity after a sell-out); None to check only that none is sold twice."""
    try:
        if database is None:
            source, live = "bookings API (admin, scope=all)", await _api(http, admin, showtime_id)
        elif database[0] == "postgres":
            source, live = (
                "database (PostgreSQL booking_seats)",
                await _postgres(database[1], showtime_id),
            )
        else:
            source, live = "database (SQLite booking_seats)", _sqlite(database[1], showtime_id)
    except Exception as exc:
        return {"checked": False, "error": f"{type(exc).__name__}: {exc}", "held": False}
    twice = sum(1 for n in live.values() if n > 1)
    sold = len(live)
    held = twice == 0 and (expect_sold is None or sold == expect_sold)
    return {
        "checked": True,
        "source": source,
        "capacity": capacity,
        "seats_sold": sold,
        "seats_expected_sold": expect_sold,
        "seats_sold_twice": twice,
        "live_booking_seat_rows": sum(live.values()),
        "held": held,
    }
