"""The booking rules: booking seats, and reading bookings.

Defences against a double sale, fastest first: the seat board (per-seat holds, atomic and
all-or-nothing, which also knows the sold seats), and finally the database's unique index over
(showtime, seat) of live booking seats, which decides whatever Redis says or whether it is up.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from decimal import Decimal

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.booking import repository as repo
from boxoffice.booking.catalog import Layout, SeatInfo, ShowtimeInfo
from boxoffice.booking.errors import (
    BookingNotFound,
    SeatSelectionLeavesGap,
    UnpaidSeatsCapReached,
)
from boxoffice.booking.lifecycle import Lifecycle, record_booking_event
from boxoffice.booking.metrics import BOOKINGS
from boxoffice.booking.models import PENDING, Booking, BookingSeat
from boxoffice.booking.schemas import SeatSelection
from boxoffice.booking.seat_rules import stranded_seats
from boxoffice.booking.seats import SeatService, label, taken_error
from boxoffice.core.app import ServiceContext
from boxoffice.core.auth import Principal
from boxoffice.core.db import utcnow
from boxoffice.core.errors import AppError, Conflict, PermissionDenied

log = structlog.get_logger("boxoffice.booking")

# Booking codes avoid letters and digits people confuse (0/O, 1/I/L).
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_booking_code() -> str:
    return "BK" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))


class BookingService:
    """One request's view of the booking rules."""

    def __init__(self, session: AsyncSession, ctx: ServiceContext) -> None:
        self.session = session
        self.ctx = ctx
        self.settings = ctx.settings
        self.seats = SeatService(session, ctx)

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
        """One hold script (the caller's own holds extend; others' refuse), then one
        transaction in which the unique index over live seats decides; the seat board learns
        of the sale after the commit."""
        showtime, layout, chosen = await self.seats.selection(body)
        if showtime.enforce_seat_rules:
            await self._check_seat_rules(user, showtime.id, layout, [s.id for s in chosen])
        # A quick look first, so a customer at the cap touches no seat; `_insert` decides.
        await self._check_fair_share(user, showtime.id, len(chosen), booked=False)
        acquired: tuple[str, ...] = ()
        if self.seats.guards.holds:
            held = await self.seats.claim(user, showtime, chosen)
            acquired = held.acquired if held is not None else ()
        booking = await self._insert(user, showtime, chosen, acquired)
        record_booking_event(self.session, "booking.created", booking)
        self.seats.sell_after_commit(booking)
        return booking

    async def _insert(
        self,
        user: Principal,
        showtime: ShowtimeInfo,
        chosen: list[SeatInfo],
        acquired: tuple[str, ...],
    ) -> Booking:
        """Insert the booking in a savepoint, so that losing the race to the index undoes only
        the insert and nothing the caller's transaction did before; then name the seats
        someone else has."""
        wanted = [s.id for s in chosen]
        await self._expire_overdue(showtime.id, wanted)
        booking = self._new_booking(user, showtime, chosen, utcnow())
        await repo.lock_customer(self.session, user.user_id)
        try:
            async with self.session.begin_nested():
                await repo.add_booking(self.session, booking, booking.seats)
        except IntegrityError:
            await self.seats.release_quietly(showtime.id, acquired, user)
            live = await repo.live_seats(self.session, showtime.id, utcnow(), wanted)
            sold = [s for s in live if not s.overdue]
            if sold:
                raise taken_error(sold) from None
            # Only a booking that ran out since `_expire_overdue` looked is left: rare, and
            # the customer's next try finds its seats free.
            raise Conflict("The booking could not be saved; please try again") from None
        try:
            await self._check_fair_share(user, showtime.id, len(chosen), booked=True)
        except UnpaidSeatsCapReached:
            await self.seats.release_quietly(showtime.id, acquired, user)
            raise  # the request's session rolls the insert back
        return booking

    async def _expire_overdue(self, showtime_id: uuid.UUID, wanted: list[uuid.UUID]) -> None:
        """Expire the bookings that ran out unpaid on the wanted seats now, rather than wait
        for the sweeper: their seats are free, and the index would refuse the insert.

        In their own transaction, before this one writes: they are facts of their own, kept
        whatever becomes of this booking (and on SQLite this transaction does not yet hold
        the one write lock that transaction needs)."""
        now = utcnow()
        live = await repo.live_seats(self.session, showtime_id, now, wanted)
        overdue = {s.booking_id for s in live if s.overdue}
        if overdue:
            async with self.ctx.db.transaction() as session:
                for booking_id in overdue:
                    await Lifecycle(session, self.ctx).expire(booking_id, now)

    async def _check_fair_share(
        self, user: Principal, showtime_id: uuid.UUID, seats: int, *, booked: bool
    ) -> None:
        """Refuse (409) a booking that would leave the customer more unpaid seats than the
        caps allow (SPEC 4.10, docs/fair-share.md). `booked`: the new booking is already in
        this transaction's count.

        Race-free when called after `repo.lock_customer` and the insert, in the same
        transaction: on PostgreSQL the customer's advisory lock makes their bookings take turns
        until commit, and each statement of READ COMMITTED sees every booking committed before
        it, so the count includes all earlier ones; on SQLite the insert already holds the
        database's only write lock, so no other booking commits until this one has, and this
        count, run after it, sees every one committed before. Either way the count is of what
        will be there when this booking commits."""
        unpaid = await repo.unpaid_seats(self.session, user.user_id, showtime_id, utcnow())
        extra = 0 if booked else seats
        per_showtime = self.settings.max_unpaid_seats_per_showtime
        in_all = self.settings.max_unpaid_seats_in_all
        mine_before = seats if booked else 0
        if unpaid.here + extra > per_showtime:
            raise UnpaidSeatsCapReached("per_showtime", per_showtime, unpaid.here - mine_before)
        if unpaid.in_all + extra > in_all:
            raise UnpaidSeatsCapReached("in_all", in_all, unpaid.in_all - mine_before)

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
            show_starts_at=showtime.start(self.settings.theater_timezone),
            created_at=now,
            updated_at=now,
            seats=seats,
        )

    async def _check_seat_rules(
        self, user: Principal, showtime_id: uuid.UUID, layout: Layout, wanted: list[uuid.UUID]
    ) -> None:
        """Where the showtime asks for it: refuse a selection that strands a single seat."""
        taken = await self.seats.unavailable_to(user, layout, showtime_id)
        stranded = stranded_seats(list(layout.seats), taken, set(wanted))
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
        booking_code: str | None = None,
    ) -> list[Booking]:
        """The caller's bookings; staff may list another user's, or everyone's."""
        if (everyone or (user_id and user_id != user.user_id)) and not user.is_staff:
            raise PermissionDenied("Only staff may list other customers' bookings")
        owner = None if everyone and user_id is None else (user_id or user.user_id)
        return list(
            await repo.list_bookings(
                self.session,
                user_id=owner,
                showtime_id=showtime_id,
                booking_code=booking_code,
                limit=limit,
                offset=offset,
            )
        )
