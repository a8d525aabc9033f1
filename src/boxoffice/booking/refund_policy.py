"""A used ticket is final (SPEC 4.9, docs/refunds.md): the one place that decides it.

Once a ticket is checked in, or once its show has started, its customer can neither cancel it
nor get the money back. The payment service asks booking (`BookingService.approve_refund`, by
these rules) before it refunds on a customer's request; the approval is written on the booking,
and check-in refuses a booking that has one, so a refund and a check-in racing each other can
never both win. Automatic refunds of the saga (a charge that landed on an expired or cancelled
booking) do not ask: no ticket is at stake in them.
"""

from __future__ import annotations

import datetime as dt
import uuid

from boxoffice.booking.models import CONFIRMED, LIVE_STATUSES, PAID, Booking


def show_starts_at(booking: Booking) -> dt.datetime:
    """When the booking's show starts: its local date and time in its theater's time zone, as
    the movie service worked it out when the booking was made (docs/showtimes.md)."""
    return booking.show_starts_at


def ticket_is_final(booking: Booking, now: dt.datetime) -> str | None:
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


def cancel_refusal(booking: Booking, now: dt.datetime) -> str | None:
    """Why the owner may not cancel: a used ticket, or a paid one whose show has started."""
    if booking.checked_in_at is not None:
        return "This ticket has already been used"
    if booking.status == CONFIRMED and booking.payment_status == PAID:
        return ticket_is_final(booking, now)
    return None
