"""A booking's life after it is made: pending → confirmed (paid), cancelled, expired; check-in.

Every transition is a guarded update (`repository.transition`): it happens only if the booking
is still in the state the rule starts from, so racing actors (an owner cancelling while the
payment lands, two sweeper replicas, a redelivered event) cannot both act. The one that made
the change records the event announcing it, in the same transaction (outbox).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.booking import repository as repo
from boxoffice.booking.errors import (
    BookingNotCancellable,
    BookingNotFound,
    CheckInRefused,
    NotBookingOwner,
)
from boxoffice.booking.models import (
    CANCELLED,
    CONFIRMED,
    EXPIRED,
    PAID,
    PENDING,
    REFUNDED,
    UNPAID,
    Booking,
)
from boxoffice.booking.refund_policy import cancel_refusal
from boxoffice.core.app import ServiceContext
from boxoffice.core.auth import Principal
from boxoffice.core.db import after_commit, utcnow
from boxoffice.core.events import record_event
from boxoffice.seatboard import seat_board

log = structlog.get_logger("boxoffice.booking.lifecycle")


def booking_payload(booking: Booking, **extra: Any) -> dict[str, Any]:
    """The payload every `booking.*` event carries (docs/contracts.md), plus `extra`."""
    seats = [
        {
            "seat_id": s.seat_id,
            "seat_row": s.seat_row,
            "seat_number": s.seat_number,
            "seat_type": s.seat_type,
            "price": s.price,
        }
        for s in booking.seats
    ]
    return {
        "booking_id": booking.id,
        "booking_code": booking.booking_code,
        "user_id": booking.user_id,
        "user_email": booking.user_email,
        "showtime_id": booking.showtime_id,
        "movie_title": booking.movie_title,
        "theater_name": booking.theater_name,
        "city": booking.city,
        "show_date": booking.show_date,
        "show_time": booking.show_time,
        "seats": seats,
        "total_seats": booking.total_seats,
        "total_price": booking.total_price,
        "status": booking.status,
        "payment_status": booking.payment_status,
        "expires_at": booking.expires_at,
        "payment_id": booking.payment_id,
        **extra,
    }


def record_booking_event(session: AsyncSession, name: str, booking: Booking, **extra: Any) -> None:
    """Add a `booking.*` event to the outbox, in the caller's transaction."""
    record_event(session, name, booking_payload(booking, **extra), aggregate_id=booking.id)


def confirm_seats_after_commit(
    session: AsyncSession, ctx: ServiceContext, booking: Booking
) -> None:
    """Once the payment's confirmation commits, the booking's seats are sold for good."""
    showtime, seats = str(booking.showtime_id), [str(s.seat_id) for s in booking.seats]

    async def confirm() -> None:
        await seat_board(ctx.runtime).confirm(showtime, seats)

    after_commit(session, confirm)


def free_seats_after_commit(session: AsyncSession, ctx: ServiceContext, booking: Booking) -> None:
    """Once the transaction that ended the booking commits, its seats are free on the board."""
    showtime, seats = str(booking.showtime_id), [str(s.seat_id) for s in booking.seats]

    async def free() -> None:
        await seat_board(ctx.runtime).free(showtime, seats)

    after_commit(session, free)


class Lifecycle:
    """The transitions of bookings, in one session (the caller's transaction)."""

    def __init__(self, session: AsyncSession, ctx: ServiceContext) -> None:
        self.session = session
        self.ctx = ctx

    async def _reload(self, booking_id: uuid.UUID) -> Booking:
        booking = await repo.get_booking(self.session, booking_id)
        if booking is None:  # bookings are never deleted
            raise BookingNotFound()
        return booking

    async def _close(
        self, booking_id: uuid.UUID, seat_status: str, event: str, **extra: Any
    ) -> Booking:
        """After a transition that frees seats: seats follow, the event, the board after commit."""
        await repo.set_seats_status(self.session, booking_id, seat_status)
        booking = await self._reload(booking_id)
        record_booking_event(self.session, event, booking, **extra)
        free_seats_after_commit(self.session, self.ctx, booking)
        return booking

    async def expire(self, booking_id: uuid.UUID, now: dt.datetime | None = None) -> bool:
        """Expire a pending booking past its expiry and free its seats; False if it was not."""
        now = now or utcnow()
        moved = await repo.transition(
            self.session,
            booking_id,
            from_statuses=[PENDING],
            expired_at=now,
            values={"status": EXPIRED, "updated_at": now},
        )
        if moved:
            await self._close(booking_id, EXPIRED, "booking.expired")
        return moved

    async def cancel(self, user: Principal, booking_id: uuid.UUID) -> Booking:
        """The owner cancels: a pending booking frees its seats; a paid one also asks for a
        refund (`refund_required`), which payment makes and announces with payment.refunded."""
        booking = await repo.get_booking(self.session, booking_id)
        if booking is None or (booking.user_id != user.user_id and not user.is_staff):
            raise BookingNotFound(f"Booking {booking_id} not found")
        if booking.user_id != user.user_id:
            raise NotBookingOwner("Only the booking's owner may cancel it")
        # A racing transition changes the state under us at most a couple of times.
        for _ in range(3):
            now = utcnow()
            status = booking.effective_status(now)
            if status == CANCELLED:
                raise BookingNotCancellable("This booking is already cancelled")
            if status == EXPIRED:
                raise BookingNotCancellable("This booking has expired")
            refusal = cancel_refusal(booking, self.ctx, now)
            if refusal is not None:
                raise BookingNotCancellable(refusal)
            refund_required = status == CONFIRMED and booking.payment_status == PAID
            moved = await repo.transition(
                self.session,
                booking_id,
                from_statuses=[status],
                unexpired_at=now if status == PENDING else None,
                checked_in=False,
                values={"status": CANCELLED, "cancelled_at": now, "updated_at": now},
            )
            if moved:
                return await self._close(
                    booking_id,
                    CANCELLED,
                    "booking.cancelled",
                    refund_required=refund_required,
                    reason="requested",
                )
            booking = await self._reload(booking_id)
        raise BookingNotCancellable("This booking changed while cancelling; try again")

    async def payment_completed(self, booking_id: uuid.UUID, payment_id: uuid.UUID) -> None:
        """Confirm and mark paid; a payment for a booking that can no longer take it is
        rejected (booking.payment_rejected) so payment refunds it automatically."""
        booking = await repo.get_booking(self.session, booking_id)
        if booking is None:
            log.warning("payment_for_unknown_booking", booking_id=str(booking_id))
            return
        if booking.payment_id == payment_id and booking.payment_status in (PAID, REFUNDED):
            return  # this payment was applied (and maybe refunded) already
        now = utcnow()
        if booking.effective_status(now) == PENDING:
            paid = {
                "status": CONFIRMED,
                "payment_status": PAID,
                "payment_id": payment_id,
                "confirmed_at": now,
                "updated_at": now,
            }
            moved = await repo.transition(
                self.session, booking_id, from_statuses=[PENDING], unexpired_at=now, values=paid
            )
            if moved:
                await repo.set_seats_status(self.session, booking_id, CONFIRMED)
                repo.show_committed(booking, paid, CONFIRMED)
                record_booking_event(self.session, "booking.confirmed", booking)
                confirm_seats_after_commit(self.session, self.ctx, booking)
                return
            booking = await self._reload(booking_id)
        if booking.status == PENDING and await self.expire(booking_id, now):
            booking = await self._reload(booking_id)
        reason = {
            EXPIRED: "booking_expired",
            CANCELLED: "booking_cancelled",
            CONFIRMED: "already_paid",
        }.get(booking.status, "booking_unpayable")
        log.warning("payment_rejected", booking_id=str(booking_id), reason=reason)
        record_booking_event(
            self.session,
            "booking.payment_rejected",
            booking,
            payment_id=payment_id,
            reason=reason,
        )

    async def payment_refunded(self, booking_id: uuid.UUID, payment_id: uuid.UUID) -> None:
        """A refund cancels the booking it paid for and frees the seats, unless the ticket was
        used: a checked-in booking is never cancelled (docs/refunds.md)."""
        booking = await repo.get_booking(self.session, booking_id)
        if booking is None:
            log.warning("refund_for_unknown_booking", booking_id=str(booking_id))
            return
        if booking.payment_id is not None and booking.payment_id != payment_id:
            return  # the refund of a rejected second payment: this booking keeps its own
        for _ in range(3):  # a racing check-in changes the row under us at most once
            if await self._apply_refund(booking, payment_id):
                return
            booking = await self._reload(booking_id)
        log.error("refund_not_applied", booking_id=str(booking_id), payment_id=str(payment_id))
        raise RuntimeError(f"booking {booking_id} kept changing while its refund was applied")

    async def _used_ticket_refunded(self, booking: Booking, payment_id: uuid.UUID) -> None:
        """Money went back for a ticket that was used. The rule (refund_policy.py) keeps this
        from happening; if it does anyway (a refund from outside the rule), the booking tells
        the truth about the money but stays confirmed and checked in, its seats sold: the
        person was in the hall. People follow the error log up."""
        now = utcnow()
        await repo.transition(
            self.session,
            booking.id,
            from_statuses=[booking.status],
            checked_in=True,
            values={"payment_status": REFUNDED, "payment_id": payment_id, "updated_at": now},
        )
        log.error(
            "used_ticket_refunded",
            booking_id=str(booking.id),
            payment_id=str(payment_id),
            checked_in_at=str(booking.checked_in_at),
        )

    async def _apply_refund(self, booking: Booking, payment_id: uuid.UUID) -> bool:
        """One attempt at applying a refund; False if the booking changed under it."""
        booking_id = booking.id
        if booking.checked_in_at is not None:
            await self._used_ticket_refunded(booking, payment_id)
            return True
        now = utcnow()
        status = booking.effective_status(now)
        if status == EXPIRED:
            await self.expire(booking_id, now)
            return True
        if status == CANCELLED:
            # The owner cancelled a paid booking; this is the refund it asked for.
            await repo.transition(
                self.session,
                booking_id,
                from_statuses=[CANCELLED],
                payment_statuses=[PAID, UNPAID],
                values={"payment_status": REFUNDED, "payment_id": payment_id, "updated_at": now},
            )
            return True
        # Confirmed (refund requested through payment), or still pending because the refund
        # overtook the payment's own completion event: either way the sale is undone.
        moved = await repo.transition(
            self.session,
            booking_id,
            from_statuses=[status],
            checked_in=False,
            values={
                "status": CANCELLED,
                "payment_status": REFUNDED,
                "payment_id": payment_id,
                "cancelled_at": now,
                "updated_at": now,
            },
        )
        if moved:
            await self._close(
                booking_id, CANCELLED, "booking.cancelled", refund_required=False, reason="refunded"
            )
        return moved

    async def check_in(self, code: str) -> Booking:
        """Staff at the door: a confirmed, unused ticket is marked used."""
        booking = await repo.get_booking_by_code(self.session, code)
        if booking is None:
            raise BookingNotFound(f"No booking with code {code}")
        if booking.checked_in_at is not None:
            used = f"{booking.checked_in_at:%Y-%m-%d %H:%M} UTC"
            # The door's page says when, and shows the ticket again (its id to read it by).
            raise CheckInRefused(
                f"This ticket was already checked in at {used}",
                extra={
                    "booking_id": str(booking.id),
                    "checked_in_at": booking.checked_in_at.isoformat(),
                },
            )
        now = utcnow()
        status = booking.effective_status(now)
        if status != CONFIRMED:
            raise CheckInRefused(f"This booking is {status}, not confirmed")
        if booking.refund_approved_at is not None:
            raise CheckInRefused("This ticket's money is being given back; it cannot be used")
        moved = await repo.transition(
            self.session,
            booking.id,
            from_statuses=[CONFIRMED],
            checked_in=False,
            refund_approved=False,
            values={"checked_in_at": now, "updated_at": now},
        )
        if not moved:
            raise CheckInRefused("This ticket was just checked in, or changed")
        return await self._reload(booking.id)
