"""A used ticket is final (SPEC 4.9, docs/refunds.md): the one place that decides it.

Once a ticket is checked in, or once its show has started, its customer can neither cancel it
nor get the money back. The payment service asks here (`approve_refund`) before it refunds on a
customer's request; the approval is written on the booking, and check-in refuses a booking that
has one, so a refund and a check-in racing each other can never both win. Automatic refunds of
the saga (a charge that landed on an expired or cancelled booking) do not ask: no ticket is at
stake in them.
"""

from __future__ import annotations

import datetime as dt
import uuid

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.booking import repository as repo
from boxoffice.booking.errors import BookingNotFound, RefundRefused
from boxoffice.booking.models import CONFIRMED, LIVE_STATUSES, PAID, Booking
from boxoffice.core.app import ServiceContext
from boxoffice.core.auth import Principal
from boxoffice.core.db import utcnow

log = structlog.get_logger("boxoffice.booking.refund_policy")


def show_starts_at(booking: Booking) -> dt.datetime:
    """When the booking's show starts: its local date and time in its theater's time zone, as
    the movie service worked it out when the booking was made (docs/showtimes.md)."""
    return booking.show_starts_at


def ticket_is_final(booking: Booking, ctx: ServiceContext, now: dt.datetime) -> str | None:
    """Why this booking's ticket can no longer be given back, or None while it still can."""
    if booking.checked_in_at is not None:
        return f"This ticket was checked in at {booking.checked_in_at:%Y-%m-%d %H:%M} UTC"
    starts = show_starts_at(booking)
    if starts <= now:
        return f"The show started at {starts:%Y-%m-%d %H:%M} UTC"
    return None


def paid_by(booking: Booking, payment_id: uuid.UUID, now: dt.datetime) -> bool:
    """Whether this payment is what pays for a ticket that is (or is becoming) valid.

    A booking not yet marked paid counts as the payment's too: its payment.completed may still
    be on its way. A payment the booking rejected, or one for a booking that ended unpaid, buys
    nothing, so refunding it takes no ticket away.
    """
    if booking.effective_status(now) not in LIVE_STATUSES:
        return False
    return booking.payment_id in (None, payment_id)


async def approve_refund(
    session: AsyncSession,
    ctx: ServiceContext,
    user: Principal,
    booking_id: uuid.UUID,
    payment_id: uuid.UUID,
) -> bool:
    """Let a customer's refund of `payment_id` through, or raise RefundRefused (409).

    True when a ticket is at stake: the booking is then marked `refund_approved_at`, which
    check-in refuses. False when the payment pays for no ticket (nothing is marked).
    """
    booking = await repo.get_booking(session, booking_id)
    if booking is None or (booking.user_id != user.user_id and not user.is_admin):
        raise BookingNotFound(f"Booking {booking_id} not found")
    # A racing check-in changes the row under us at most once.
    for _ in range(3):
        now = utcnow()
        if not paid_by(booking, payment_id, now):
            return False
        reason = ticket_is_final(booking, ctx, now)
        if reason is not None:
            log.info("refund_refused", booking_id=str(booking_id), reason=reason)
            raise RefundRefused(f"{reason}: a used ticket is not refunded")
        if booking.refund_approved_at is not None:
            return True  # asked again (a retry): already approved
        moved = await repo.transition(
            session,
            booking_id,
            from_statuses=[booking.status],
            checked_in=False,
            refund_approved=False,
            values={"refund_approved_at": now, "updated_at": now},
        )
        if moved:
            log.info("refund_approved", booking_id=str(booking_id), payment_id=str(payment_id))
            return True
        booking = await repo.get_booking(session, booking_id)
        assert booking is not None  # bookings are never deleted
    raise RefundRefused("This booking changed while the refund was checked; try again")


def cancel_refusal(booking: Booking, ctx: ServiceContext, now: dt.datetime) -> str | None:
    """Why the owner may not cancel: a used ticket, or a paid one whose show has started."""
    if booking.checked_in_at is not None:
        return "This ticket has already been used"
    if booking.status == CONFIRMED and booking.payment_status == PAID:
        return ticket_is_final(booking, ctx, now)
    return None
