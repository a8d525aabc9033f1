"""The events the movie service consumes: booking facts that change a showtime's free seats
(the seat-count ledger, repository.SeatLedgerRepository)."""

from __future__ import annotations

import uuid

from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.app import ServiceContext
from boxoffice.core.events import EventHandlers, EventReader, IncomingEvent
from boxoffice.movie.service import MovieService

handlers = EventHandlers("movie")


class BookingSeats(EventReader):
    """What a booking event says about seats: which booking, which showtime, how many."""

    booking_id: uuid.UUID
    showtime_id: uuid.UUID
    total_seats: int = Field(ge=0)


@handlers.on("booking.created")
async def on_booking_created(
    event: IncomingEvent, session: AsyncSession, ctx: ServiceContext
) -> None:
    """A booking took seats: fewer are available."""
    booking = event.read(BookingSeats)
    await MovieService.from_context(ctx, session).booking_holds_seats(
        booking.booking_id, booking.showtime_id, booking.total_seats
    )


@handlers.on("booking.cancelled")
async def on_booking_cancelled(
    event: IncomingEvent, session: AsyncSession, ctx: ServiceContext
) -> None:
    """A booking gave its seats back."""
    booking = event.read(BookingSeats)
    await MovieService.from_context(ctx, session).booking_released_seats(
        booking.booking_id, booking.showtime_id, booking.total_seats
    )


@handlers.on("booking.expired")
async def on_booking_expired(
    event: IncomingEvent, session: AsyncSession, ctx: ServiceContext
) -> None:
    """An unpaid booking ran out of time: its seats are free again."""
    booking = event.read(BookingSeats)
    await MovieService.from_context(ctx, session).booking_released_seats(
        booking.booking_id, booking.showtime_id, booking.total_seats
    )
