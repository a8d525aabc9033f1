"""The payment side of the booking ⇄ payment saga: the booking events payment consumes.

booking.cancelled with `refund_required` → refund the booking's payment (reason
`booking_cancelled`); booking.payment_rejected (the payment landed after its booking expired or
was cancelled) → automatic refund (reason `booking_expired`). Both are idempotent: the inbox
drops redeliveries, and a payment already refunded is left alone.
"""

from __future__ import annotations

import uuid
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.app import ServiceContext
from boxoffice.core.events import EventHandlers, IncomingEvent
from boxoffice.payment.refunds import refund_booking_in_session, refund_in_session

log = structlog.get_logger("boxoffice.payment.consumers")

handlers = EventHandlers("payment")


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None


@handlers.on("booking.cancelled")
async def on_booking_cancelled(
    event: IncomingEvent, session: AsyncSession, ctx: ServiceContext
) -> None:
    """A paid booking was cancelled by its owner: give the money back."""
    if not event.payload.get("refund_required"):
        return
    booking_id = _uuid(event.payload.get("booking_id"))
    if booking_id is None:
        log.warning("booking_cancelled_without_booking_id", event_id=str(event.id))
        return
    await refund_booking_in_session(ctx, session, booking_id, reason="booking_cancelled")


@handlers.on("booking.payment_rejected")
async def on_payment_rejected(
    event: IncomingEvent, session: AsyncSession, ctx: ServiceContext
) -> None:
    """A payment completed after its booking expired (or was cancelled): refund it."""
    payment_id = _uuid(event.payload.get("payment_id"))
    if payment_id is None:
        log.warning("payment_rejected_without_payment_id", event_id=str(event.id))
        return
    reason = event.payload.get("reason")
    if reason not in ("booking_expired", "booking_cancelled"):
        reason = "booking_expired"
    await refund_in_session(ctx, session, payment_id, reason=reason)
