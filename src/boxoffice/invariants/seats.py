"""The seat rules across booking and movie: no seat sold twice (SPEC 4.1), and the movie
service's free-seat count agreeing with what booking has sold.

Booking's live seats are the truth. The movie service keeps a ledger (one row per booking: its
seat count, released or not) fed by the booking events, and a showtime's free seats are its
capacity less the ledger's sum; so the ledger is compared booking by booking, which names the
bookings whose events went astray, and reported per showtime.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from boxoffice.booking.models import LIVE_STATUSES
from boxoffice.core.db import UTCDateTime
from boxoffice.invariants.money import BookingFacts
from boxoffice.invariants.reading import ServiceDatabases
from boxoffice.invariants.report import Violation, Window, ids

_LIVE_SQL = ", ".join(f"'{s}'" for s in LIVE_STATUSES)


@dataclass(frozen=True, slots=True)
class LiveSeat:
    """A seat a pending or confirmed booking has taken."""

    booking_id: uuid.UUID
    showtime_id: uuid.UUID
    seat_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """The movie service's record of one booking's seats."""

    booking_id: uuid.UUID
    showtime_id: uuid.UUID
    seats: int
    released: bool
    updated_at: dt.datetime

    @property
    def held(self) -> int:
        return 0 if self.released else self.seats


async def read_live_seats(db: ServiceDatabases) -> list[LiveSeat]:
    rows = await db.rows(
        "booking",
        f"SELECT booking_id, showtime_id, seat_id FROM booking_seats WHERE status IN ({_LIVE_SQL})",
        {"booking_id": sa.Uuid(), "showtime_id": sa.Uuid(), "seat_id": sa.Uuid()},
    )
    return [LiveSeat(**row._asdict()) for row in rows]


async def read_ledger(db: ServiceDatabases) -> list[LedgerEntry]:
    rows = await db.rows(
        "movie",
        "SELECT booking_id, showtime_id, seats, released, updated_at FROM showtime_bookings",
        {
            "booking_id": sa.Uuid(),
            "showtime_id": sa.Uuid(),
            "released": sa.Boolean(),
            "updated_at": UTCDateTime(),
        },
    )
    return [LedgerEntry(**row._asdict()) for row in rows]


async def read_capacities(db: ServiceDatabases) -> dict[uuid.UUID, int]:
    """Each showtime's seat count."""
    rows = await db.rows("movie", "SELECT id, total_seats FROM showtimes", {"id": sa.Uuid()})
    return {row.id: row.total_seats for row in rows}


def seats_sold_twice(seats: Iterable[LiveSeat]) -> list[Violation]:
    """Seats in more than one live booking. No grace: the database should make it impossible
    at every instant (uq_booking_seats_live_seat); this finds that guard lost."""
    holders: defaultdict[tuple[uuid.UUID, uuid.UUID], list[uuid.UUID]] = defaultdict(list)
    for seat in seats:
        holders[(seat.showtime_id, seat.seat_id)].append(seat.booking_id)
    return [
        Violation(
            "seat_sold_twice",
            f"seat {seat_id} of showtime {showtime_id} is in {len(bookings)} live bookings: "
            + ", ".join(map(str, bookings)),
            ids(showtime_id, seat_id, *bookings),
            "booking",
        )
        for (showtime_id, seat_id), bookings in holders.items()
        if len(bookings) > 1
    ]


def availability_mismatches(
    capacities: Mapping[uuid.UUID, int],
    ledger: Sequence[LedgerEntry],
    bookings: Sequence[BookingFacts],
    seats: Sequence[LiveSeat],
    window: Window,
) -> list[Violation]:
    """Showtimes whose free-seat count (capacity less the ledger) is not capacity less
    booking's live seats, counting only bookings whose last change has settled."""
    sold: Counter[uuid.UUID] = Counter(seat.booking_id for seat in seats)
    booking_by_id = {b.id: b for b in bookings}
    entry_by_id = {e.booking_id: e for e in ledger}
    # Showtime -> (booking, seats the movie ledger holds for it, seats booking sold it).
    disagreeing: defaultdict[uuid.UUID, list[tuple[uuid.UUID, int, int]]] = defaultdict(list)
    for booking_id in booking_by_id.keys() | entry_by_id.keys():
        booking, entry = booking_by_id.get(booking_id), entry_by_id.get(booking_id)
        held = entry.held if entry is not None else 0
        if held == sold[booking_id]:
            continue
        if not window.settled(
            booking.updated_at if booking else None, entry.updated_at if entry else None
        ):
            continue
        showtime_id = booking.showtime_id if booking is not None else entry.showtime_id  # type: ignore[union-attr]
        disagreeing[showtime_id].append((booking_id, held, sold[booking_id]))
    if not disagreeing:
        return []
    held_by_showtime: Counter[uuid.UUID] = Counter()
    for entry in ledger:
        held_by_showtime[entry.showtime_id] += entry.held
    sold_by_showtime: Counter[uuid.UUID] = Counter(seat.showtime_id for seat in seats)
    found = []
    for showtime_id, rows in disagreeing.items():
        rows.sort()
        capacity = capacities.get(showtime_id)
        if capacity is None:
            counts = "unknown to the movie service"
        else:
            counts = (
                f"movie says {capacity - held_by_showtime[showtime_id]} of {capacity} free, "
                f"booking has sold {sold_by_showtime[showtime_id]}"
            )
        found.append(
            Violation(
                "availability_mismatch",
                f"showtime {showtime_id}: {counts}; "
                + "; ".join(f"booking {b}: movie holds {h}, booking sold {s}" for b, h, s in rows),
                ids(showtime_id, *(b for b, _, _ in rows)),
                "movie",
            )
        )
    return found
