"""The events the notification service consumes: every booking and payment fact a customer
should hear about becomes one notice (its inbox row and the notice commit together, so a
redelivered event creates nothing new), and `booking.created` teaches it the booking's details.

The readers take the booking and payment facts as they come (`Any`): content.py makes text of
whatever is there, so a missing or odd fact makes a shorter sentence, never a lost notice. Only
the user a notice is for must be there (else the event is malformed and ends dead-lettered).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import ValidationError, ValidatorFunctionWrapHandler, WrapValidator
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.app import ServiceContext
from boxoffice.core.events import EventHandlers, EventReader, IncomingEvent
from boxoffice.notification.content import NOTIFIED_EVENTS
from boxoffice.notification.service import NotificationService

handlers = EventHandlers("notification")


def absent_if_invalid(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """A value that is not what the field holds reads as absent (None), not as malformed."""
    try:
        return handler(value)
    except ValidationError:
        return None


OptionalId = Annotated[uuid.UUID | None, WrapValidator(absent_if_invalid)]
"""An id that may be missing or unreadable: then the event is about no known booking."""


class BookingFacts(EventReader):
    """What a `booking.*` event tells of its booking (every booking event carries them):
    kept, so the payment notices that lack them can name the show and seats."""

    booking_id: OptionalId = None
    user_id: OptionalId = None
    booking_code: Any = None
    movie_title: Any = None
    theater_name: Any = None
    city: Any = None
    show_date: Any = None
    show_time: Any = None
    seats: Any = None
    total_seats: Any = None
    total_price: Any = None

    def facts(self) -> dict[str, Any]:
        """The facts by name, as content.py reads them."""
        return dict(self)


class NoticeFacts(BookingFacts):
    """A booking or payment event that becomes a notice: for whom (required), where to e-mail
    it, and the payment's facts besides the booking's."""

    user_id: uuid.UUID  # required here: a notice is for someone
    user_email: Any = None
    amount: Any = None
    payment_method: Any = None
    transaction_id: Any = None
    reason: Any = None
    refund_required: Any = None
    payment_status: Any = None


async def notify(event: IncomingEvent, session: AsyncSession, ctx: ServiceContext) -> None:
    """One notice for one booking or payment event."""
    notice = event.read(NoticeFacts)
    await NotificationService.from_context(ctx, session).notify(
        event.id,
        event.name,
        user_id=notice.user_id,
        booking_id=notice.booking_id,
        user_email=notice.user_email,
        facts=notice.facts(),
    )


for _name in NOTIFIED_EVENTS:
    handlers.on(_name)(notify)


@handlers.on("booking.created")
async def remember_booking(
    event: IncomingEvent, session: AsyncSession, ctx: ServiceContext
) -> None:
    """No notice for a pending booking, but its details name it in later payment notices."""
    booking = event.read(BookingFacts)
    await NotificationService.from_context(ctx, session).remember_booking(
        booking.booking_id, booking.user_id, booking.facts()
    )
