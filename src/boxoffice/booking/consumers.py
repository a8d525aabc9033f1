"""The events booking consumes (docs/contracts.md).

payment.completed and payment.refunded: each handler runs in the consumer's transaction beside
an inbox row, so a redelivered event has no second effect; the transitions themselves are
guarded, so out-of-order or repeated payment events change nothing they should not. A payload
without the ids is malformed: it fails, and is retried and then dead-lettered.

movie.updated, theater.updated, showtime.updated: what this process keeps of the catalog
(MovieClient) is dropped in every process when it changes.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.booking.movie_client import MovieClient
from boxoffice.booking.service import BookingService
from boxoffice.core.app import ServiceContext
from boxoffice.core.events import EventHandlers, EventReader, IncomingEvent

handlers = EventHandlers("booking")


class BookingPayment(EventReader):
    """The booking a payment event is about, and the payment."""

    booking_id: uuid.UUID
    payment_id: uuid.UUID


class ChangedMovie(EventReader):
    movie_id: uuid.UUID


class ChangedTheater(EventReader):
    theater_id: uuid.UUID


class ChangedShowtime(EventReader):
    showtime_id: uuid.UUID


@handlers.on("payment.completed")
async def on_payment_completed(
    event: IncomingEvent, session: AsyncSession, ctx: ServiceContext
) -> None:
    paid = event.read(BookingPayment)
    await BookingService.from_context(ctx, session).payment_completed(
        paid.booking_id, paid.payment_id
    )


@handlers.on("payment.refunded")
async def on_payment_refunded(
    event: IncomingEvent, session: AsyncSession, ctx: ServiceContext
) -> None:
    refunded = event.read(BookingPayment)
    await BookingService.from_context(ctx, session).payment_refunded(
        refunded.booking_id, refunded.payment_id
    )


@handlers.on_every_process("movie.updated")
async def on_movie_updated(event: IncomingEvent, ctx: ServiceContext) -> None:
    MovieClient.of(ctx).forget_movie(event.read(ChangedMovie).movie_id)


@handlers.on_every_process("theater.updated")
async def on_theater_updated(event: IncomingEvent, ctx: ServiceContext) -> None:
    MovieClient.of(ctx).forget_theater(event.read(ChangedTheater).theater_id)


@handlers.on_every_process("showtime.updated")
async def on_showtime_updated(event: IncomingEvent, ctx: ServiceContext) -> None:
    MovieClient.of(ctx).forget_showtime(event.read(ChangedShowtime).showtime_id)
