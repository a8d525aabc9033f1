"""The events booking consumes: payment.completed and payment.refunded (docs/contracts.md).

Each handler runs in the consumer's transaction beside an inbox row, so a redelivered event
has no second effect; the transitions themselves are guarded, so out-of-order or repeated
payment events change nothing they should not.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.booking.catalog import CatalogClient
from boxoffice.booking.lifecycle import Lifecycle
from boxoffice.booking.seats import catalog_of
from boxoffice.core.app import ServiceContext
from boxoffice.core.events import EventHandlers, IncomingEvent

handlers = EventHandlers("booking")


def _ids(event: IncomingEvent) -> tuple[uuid.UUID, uuid.UUID]:
    """The booking and payment an event names (a malformed one fails and is dead-lettered)."""
    return uuid.UUID(str(event.payload["booking_id"])), uuid.UUID(str(event.payload["payment_id"]))


@handlers.on("payment.completed")
async def on_payment_completed(
    event: IncomingEvent, session: AsyncSession, ctx: ServiceContext
) -> None:
    booking_id, payment_id = _ids(event)
    await Lifecycle(session, ctx).payment_completed(booking_id, payment_id)


@handlers.on("payment.refunded")
async def on_payment_refunded(
    event: IncomingEvent, session: AsyncSession, ctx: ServiceContext
) -> None:
    booking_id, payment_id = _ids(event)
    await Lifecycle(session, ctx).payment_refunded(booking_id, payment_id)


# What booking keeps of the catalog (catalog.py) is dropped in every process when it changes.


def _catalog(ctx: ServiceContext) -> CatalogClient:
    return catalog_of(ctx)


@handlers.on_every_process("movie.updated")
async def on_movie_updated(event: IncomingEvent, ctx: ServiceContext) -> None:
    _catalog(ctx).forget_movie(uuid.UUID(str(event.payload["movie_id"])))


@handlers.on_every_process("theater.updated")
async def on_theater_updated(event: IncomingEvent, ctx: ServiceContext) -> None:
    _catalog(ctx).forget_theater(uuid.UUID(str(event.payload["theater_id"])))


@handlers.on_every_process("showtime.updated")
async def on_showtime_updated(event: IncomingEvent, ctx: ServiceContext) -> None:
    _catalog(ctx).forget_showtime(uuid.UUID(str(event.payload["showtime_id"])))
