"""The booking rules: booking seats, and reading bookings.

Defences against a double sale, fastest first: the caller's holds (per seat, atomic,
all-or-nothing), a read of the live seats, and finally the database's unique index over
(showtime, seat) of live booking seats, which decides whatever Redis says or whether it is up.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from decimal import Decimal

import structlog
from sqlalchemy.exc import IntegrityError

from boxoffice.booking import repository as repo
from boxoffice.booking.catalog import SeatInfo, ShowtimeInfo
from boxoffice.booking.errors import BookingNotFound, SeatSelectionLeavesGap
from boxoffice.booking.lifecycle import Lifecycle, emit, release_holds
from boxoffice.booking.models import PENDING, Booking, BookingSeat
from boxoffice.booking.schemas import SeatSelection
from boxoffice.booking.seat_rules import stranded_seats
from boxoffice.booking.seats import SeatService, label, taken_error
from boxoffice.core.auth import Principal
from boxoffice.core.db import utcnow
from boxoffice.core.errors import AppError, Conflict, PermissionDenied
from boxoffice.core.holds import HoldsUnavailable
from boxoffice.core.observability import BOOKINGS

log = structlog.get_logger("boxoffice.booking")

# Booking codes avoid letters and digits people confuse (0/O, 1/I/L).
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_booking_code() -> str:
    return "BK" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))


class BookingService(SeatService):
    """One request's view of the booking rules."""

    async def book(self, user: Principal, body: SeatSelection) -> Booking:
        """Book seats that are free or held by the caller; count the attempt by outcome."""
        try:
            booking = await self._book(user, body)
        except AppError as exc:
            outcome = {409: "conflict", 503: "unavailable", 404: "not_found"}.get(
                exc.status_code, "rejected"
            )
            BOOKINGS.labels(outcome).inc()
            raise
        except Exception:
            BOOKINGS.labels("error").inc()
            raise
        BOOKINGS.labels("created").inc()
        return booking

    async def _book(self, user: Principal, body: SeatSelection) -> Booking:
        showtime, layout, chosen = await self._selection(body)
        now = utcnow()
        wanted = [s.id for s in chosen]
        live = await repo.live_seats(self.session, showtime.id, now, wanted)
        # Seats of bookings that ran out unpaid are free: expire those bookings now rather
        # than wait for the sweeper (their seats' rows would still block the unique index).
        lifecycle = Lifecycle(self.session, self.ctx)
        for booking_id in {s.booking_id for s in live if s.overdue}:
            await lifecycle.expire(booking_id, now)
        sold = [s for s in live if not s.overdue]
        if sold:
            raise taken_error(sold)
        if showtime.enforce_seat_rules:
            await self._check_seat_rules(user, showtime.id, layout, wanted, now)

        acquired: tuple[str, ...] = ()
        if self.guards.holds:
            try:
                result = await self.holds.hold(
                    str(showtime.id),
                    [str(i) for i in wanted],
                    str(user.user_id),
                    self.settings.seat_hold_ttl_seconds,
                )
            except HoldsUnavailable as exc:
                log.warning("holds_unavailable", action="book", error=str(exc))
            else:
                self._raise_unless_held(result, chosen)
                acquired = result.acquired

        booking = self._new_booking(user, showtime, chosen, now)
        try:
            await repo.add_booking(self.session, booking, booking.seats)
        except IntegrityError:
            # Someone else's booking of one of these seats committed first: the database
            # refused ours. Name the seats from a fresh look, after dropping what we held.
            await self.session.rollback()
            await self._release_quietly(showtime.id, acquired, user)
            sold = await self._sold(showtime.id, utcnow(), wanted)
            if sold:
                raise taken_error(sold)
            raise Conflict("The booking could not be saved; please try again")
        emit(self.session, "booking.created", booking)
        # The seats are the booking's now (the unique index guards them); holds would only
        # count against the caller's hold cap.
        await release_holds(self.ctx, booking)
        return booking

    def _new_booking(
        self, user: Principal, showtime: ShowtimeInfo, chosen: list[SeatInfo], now: dt.datetime
    ) -> Booking:
        booking_id = uuid.uuid4()
        seats = [
            BookingSeat(
                id=uuid.uuid4(),
                booking_id=booking_id,
                showtime_id=showtime.id,
                seat_id=seat.id,
                status=PENDING,
                position=position,
                seat_row=seat.seat_row,
                seat_number=seat.seat_number,
                seat_type=seat.seat_type,
                price=showtime.price_of(seat.seat_type),
            )
            for position, seat in enumerate(chosen)
        ]
        return Booking(
            id=booking_id,
            user_id=user.user_id,
            user_email=user.email,
            showtime_id=showtime.id,
            booking_code=new_booking_code(),
            total_seats=len(seats),
            total_price=sum((s.price for s in seats), Decimal("0.00")),
            status=PENDING,
            payment_status="unpaid",
            expires_at=now + dt.timedelta(seconds=self.settings.booking_expiry_seconds),
            movie_id=showtime.movie_id,
            movie_title=showtime.movie_title,
            theater_id=showtime.theater_id,
            theater_name=showtime.theater_name,
            city=showtime.city,
            show_date=showtime.show_date,
            show_time=showtime.show_time,
            created_at=now,
            updated_at=now,
            seats=seats,
        )

    async def _check_seat_rules(
        self,
        user: Principal,
        showtime_id: uuid.UUID,
        layout: list[SeatInfo],
        wanted: list[uuid.UUID],
        now: dt.datetime,
    ) -> None:
        """Where the showtime asks for it: refuse a selection that strands a single seat."""
        taken = await self._unavailable_to(user, showtime_id, now)
        stranded = stranded_seats(layout, taken, set(wanted))
        if stranded:
            labels = [label(s) for s in stranded]
            raise SeatSelectionLeavesGap(labels, [str(s.id) for s in stranded])

    # -- reading bookings -----------------------------------------------------------------

    async def get(self, user: Principal, booking_id: uuid.UUID) -> Booking:
        """A booking its owner (or staff) may see; 404 for anyone else."""
        booking = await repo.get_booking(self.session, booking_id)
        if booking is None or (booking.user_id != user.user_id and not user.is_staff):
            raise BookingNotFound(f"Booking {booking_id} not found")
        return booking

    async def list(
        self,
        user: Principal,
        *,
        user_id: uuid.UUID | None,
        showtime_id: uuid.UUID | None,
        everyone: bool,
        limit: int,
        offset: int,
    ) -> list[Booking]:
        """The caller's bookings; staff may list another user's, or everyone's."""
        if (everyone or (user_id and user_id != user.user_id)) and not user.is_staff:
            raise PermissionDenied("Only staff may list other customers' bookings")
        owner = None if everyone and user_id is None else (user_id or user.user_id)
        return list(
            await repo.list_bookings(
                self.session, user_id=owner, showtime_id=showtime_id, limit=limit, offset=offset
            )
        )
