"""The payment side of the booking ⇄ payment saga: the booking events payment consumes.

booking.cancelled with `refund_required` → refund the booking's payment (reason
`booking_cancelled`); booking.payment_rejected (the payment landed after its booking expired or
was cancelled) → automatic refund (reason `booking_expired`). Both are idempotent: the inbox
drops redeliveries, and a payment already refunded is left alone. An event without the ids it
needs is malformed: retried, then dead-lettered.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.app import ServiceContext
from boxoffice.core.events import EventHandlers, IncomingEvent
from boxoffice.core.events.payloads import EventReader
from boxoffice.payment.service import PaymentService

handlers = EventHandlers("payment")

# The refund reasons a rejected payment keeps; any other rejection refunds as booking_expired.
REJECTION_REASONS = ("booking_expired", "booking_cancelled")


class CancelledBooking(EventReader):
    """What payment reads of booking.cancelled."""

    booking_id: uuid.UUID
    refund_required: bool = False


class RejectedPayment(EventReader):
    """What payment reads of booking.payment_rejected."""

    payment_id: uuid.UUID
    reason: str | None = None

    @property
    def refund_reason(self) -> str:
        """The automatic refund's reason: booking's, when it is one a refund records."""
        return self.reason if self.reason in REJECTION_REASONS else "booking_expired"


@handlers.on("booking.cancelled")
async def on_booking_cancelled(
    event: IncomingEvent, session: AsyncSession, ctx: ServiceContext
) -> None:
    """A paid booking was cancelled by its owner: give the money back."""
    cancelled = event.read(CancelledBooking)
    if not cancelled.refund_required:
        return
    await PaymentService.from_context(ctx).refund_booking_in(
        session, cancelled.booking_id, reason="booking_cancelled"
    )


@handlers.on("booking.payment_rejected")
async def on_payment_rejected(
    event: IncomingEvent, session: AsyncSession, ctx: ServiceContext
) -> None:
    """A payment completed after its booking expired (or was cancelled): refund it."""
    rejected = event.read(RejectedPayment)
    await PaymentService.from_context(ctx).refund_in(
        session, rejected.payment_id, reason=rejected.refund_reason
    )
