"""The events the movie service consumes: booking facts that change a showtime's free seats."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.app import ServiceContext
from boxoffice.core.db import after_commit
from boxoffice.core.events import EventHandlers, IncomingEvent
from boxoffice.movie.availability import BookingSeats, apply_booking
from boxoffice.movie.cache import CatalogCache

handlers = EventHandlers("movie")


def invalidate_showtimes_after_commit(session: AsyncSession, ctx: ServiceContext) -> None:
    """Showtime answers carry the free-seat count: drop them once the ledger change has
    committed (before it, a reader could cache the old count again under the new version)."""
    catalog = CatalogCache(ctx.runtime.cache)

    async def invalidate() -> None:
        await catalog.invalidate("showtimes")

    after_commit(session, invalidate)


async def _apply(
    event: IncomingEvent, session: AsyncSession, ctx: ServiceContext, *, holds: bool
) -> None:
    if await apply_booking(session, BookingSeats.from_payload(event.payload), holds=holds):
        invalidate_showtimes_after_commit(session, ctx)


@handlers.on("booking.created")
async def on_booking_created(
    event: IncomingEvent, session: AsyncSession, ctx: ServiceContext
) -> None:
    """A booking took seats: fewer are available."""
    await _apply(event, session, ctx, holds=True)


@handlers.on("booking.cancelled")
async def on_booking_cancelled(
    event: IncomingEvent, session: AsyncSession, ctx: ServiceContext
) -> None:
    """A booking gave its seats back."""
    await _apply(event, session, ctx, holds=False)


@handlers.on("booking.expired")
async def on_booking_expired(
    event: IncomingEvent, session: AsyncSession, ctx: ServiceContext
) -> None:
    """An unpaid booking ran out of time: its seats are free again."""
    await _apply(event, session, ctx, holds=False)
