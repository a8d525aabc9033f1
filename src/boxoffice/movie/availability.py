"""`available_seats` of a showtime, kept true from the booking events.

Each booking is one ledger row (its seat count, and whether it still holds them); the count is
recomputed from the ledger, so a repeated event changes nothing and a release that arrives
before its booking's creation still wins.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.movie import repository as repo
from boxoffice.movie.models import ShowtimeBooking


@dataclass(frozen=True, slots=True)
class BookingSeats:
    """What a booking event says about seats: which booking, which showtime, how many."""

    booking_id: uuid.UUID
    showtime_id: uuid.UUID
    seats: int

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> BookingSeats:
        """Read the three fields this service needs; anything else is ignored."""
        seats = int(payload["total_seats"])
        if seats < 0:
            raise ValueError(f"total_seats is negative: {seats}")
        return cls(
            booking_id=uuid.UUID(str(payload["booking_id"])),
            showtime_id=uuid.UUID(str(payload["showtime_id"])),
            seats=seats,
        )


async def apply_booking(session: AsyncSession, booking: BookingSeats, *, holds: bool) -> bool:
    """Record that the booking holds (created) or released (cancelled, expired) its seats and
    recount the showtime; False when the ledger already knew (nothing changed)."""
    await repo.lock_showtime(session, booking.showtime_id)
    entry = await repo.get_ledger_entry(session, booking.booking_id)
    if entry is None:
        session.add(
            ShowtimeBooking(
                booking_id=booking.booking_id,
                showtime_id=booking.showtime_id,
                seats=booking.seats,
                released=not holds,
            )
        )
    elif holds or entry.released:
        # A repeated creation, a creation after its release, or a second release.
        return False
    else:
        entry.released = True
    await session.flush()
    await repo.recount_available_seats(session, booking.showtime_id)
    return True
