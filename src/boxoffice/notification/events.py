"""The events the notification service consumes: every booking and payment fact a customer
should hear about becomes one notice (its inbox row and the notice commit together, so a
redelivered event creates nothing new), and `booking.created` teaches it the booking's details."""

from __future__ import annotations

import asyncio

from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.app import ServiceContext
from boxoffice.core.events import EventHandlers, IncomingEvent
from boxoffice.notification.content import NOTIFIED_EVENTS
from boxoffice.notification.delivery import wake_event
from boxoffice.notification.service import NotificationService

handlers = EventHandlers("notification")


def wake_delivery_after_commit(session: AsyncSession, ctx: ServiceContext) -> None:
    """Nudge the delivery loop once this transaction has committed (not before: until then the
    loop could not see the new e-mail, and after a rollback there is none)."""
    wake: asyncio.Event = wake_event(ctx)
    sa_event.listen(session.sync_session, "after_commit", lambda _: wake.set(), once=True)


async def notify(event: IncomingEvent, session: AsyncSession, ctx: ServiceContext) -> None:
    """One notice for one booking or payment event."""
    created = await NotificationService(session).notify_event(event.id, event.name, event.payload)
    if created is not None and created.email:
        wake_delivery_after_commit(session, ctx)


for _name in NOTIFIED_EVENTS:
    handlers.on(_name)(notify)


@handlers.on("booking.created")
async def remember_booking(event: IncomingEvent, session: AsyncSession, _: ServiceContext) -> None:
    """No notice for a pending booking, but its details name it in later payment notices."""
    await NotificationService(session).remember_booking(event.payload)
