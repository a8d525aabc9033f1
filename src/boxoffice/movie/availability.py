"""`available_seats` of a showtime, kept true from the booking events.

Each booking is one ledger row (its seat count, and whether it still holds them), written with
one upsert and no lock; the count is the ledger's sum when a showtime is read, so a repeated
event changes nothing, a release that arrives before its booking's creation still wins, and the
bookings of one showtime never queue on one row.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.movie import repository as repo


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
    """Record that the booking holds (created) or released (cancelled, expired) its seats;
    False when the ledger already knew (nothing changed)."""
    record = repo.record_booking_seats if holds else repo.record_booking_release
    return await record(session, booking.booking_id, booking.showtime_id, booking.seats)
