"""The booking rules: holding seats, booking them, and what a showtime's seats are now.

Defences against a double sale, fastest first: the caller's Redis holds (per seat, atomic,
all-or-nothing), a read of the live seats, and finally the database's unique index over
(showtime, seat) of live booking seats, which decides whatever Redis says or whether it is up.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from decimal import Decimal

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.booking import repository as repo
from boxoffice.booking.catalog import MovieCatalog, SeatInfo, ShowtimeInfo
from boxoffice.booking.errors import (
    BookingNotFound,
    SeatSelectionLeavesGap,
    SeatsNotInTheater,
    SeatsUnavailable,
    TooManySeats,
)
from boxoffice.booking.lifecycle import Lifecycle, emit, release_holds
from boxoffice.booking.models import PENDING, Booking, BookingSeat
from boxoffice.booking.schemas import HoldOut, ReleaseOut, SeatSelection, SeatState
from boxoffice.booking.seat_rules import best_seats, stranded_seats
from boxoffice.core.app import ServiceContext
from boxoffice.core.auth import Principal
from boxoffice.core.db import utcnow
from boxoffice.core.errors import AppError, Conflict, PermissionDenied
from boxoffice.core.holds import HoldResult, HoldsUnavailable
from boxoffice.core.observability import BOOKINGS

log = structlog.get_logger("boxoffice.booking")

# Booking codes avoid letters and digits people confuse (0/O, 1/I/L).
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_booking_code() -> str:
    return "BK" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))


@dataclass
class Guards:
    """Switchable defences; only a test switches one off, to show the race it prevents."""

    holds: bool = True


def guards_of(ctx: ServiceContext) -> Guards:
    guards: Guards = ctx.state.setdefault("guards", Guards())
    return guards


def catalog_of(ctx: ServiceContext) -> MovieCatalog:
    catalog: MovieCatalog = ctx.state.setdefault("catalog", MovieCatalog(ctx.runtime))
    return catalog


def _label(seat: SeatInfo | repo.LiveSeat) -> str:
    return f"{seat.seat_row}{seat.seat_number}"


def _taken_error(seats: Iterable[SeatInfo | repo.LiveSeat]) -> SeatsUnavailable:
    ordered = sorted(seats, key=lambda s: (s.seat_row, s.seat_number))
    return SeatsUnavailable(
        [_label(s) for s in ordered],
        [str(s.seat_id if isinstance(s, repo.LiveSeat) else s.id) for s in ordered],
    )


class BookingService:
    """One request's view of the booking rules."""

    def __init__(self, session: AsyncSession, ctx: ServiceContext) -> None:
        self.session = session
        self.ctx = ctx
        self.settings = ctx.settings
        self.holds = ctx.runtime.holds
        self.catalog = catalog_of(ctx)
        self.guards = guards_of(ctx)

    # -- reading a selection --------------------------------------------------------------

    def _check_count(self, count: int) -> None:
        cap = self.settings.max_seats_per_booking
        if count > cap:
            raise TooManySeats(f"At most {cap} seats per booking; {count} requested")

    async def _selection(
        self, body: SeatSelection
    ) -> tuple[ShowtimeInfo, list[SeatInfo], list[SeatInfo]]:
        """The showtime, its theater's seats, and the chosen ones (all must be of it)."""
        self._check_count(len(body.seat_ids))
        showtime = await self.catalog.showtime(body.showtime_id)
        layout = await self.catalog.seats(showtime.theater_id)
        by_id = {s.id: s for s in layout}
        unknown = [str(i) for i in body.seat_ids if i not in by_id]
        if unknown:
            raise SeatsNotInTheater(unknown)
        return showtime, layout, [by_id[i] for i in body.seat_ids]

    async def _holders(self, showtime_id: uuid.UUID) -> dict[str, str]:
        try:
            return await self.holds.holders(str(showtime_id))
        except HoldsUnavailable as exc:
            log.warning("holds_unavailable", action="read", error=str(exc))
            return {}

    async def _sold(
        self, showtime_id: uuid.UUID, now: dt.datetime, seat_ids: Collection[uuid.UUID] | None
    ) -> list[repo.LiveSeat]:
        """Live booked seats; a pending booking past its expiry no longer counts."""
        return [
            s
            for s in await repo.live_seats(self.session, showtime_id, now, seat_ids)
            if not s.overdue
        ]

    # -- holds --------------------------------------------------------------------------

    async def hold(self, user: Principal, body: SeatSelection) -> HoldOut:
        """Hold every requested seat for the caller, or none (409 naming the taken ones)."""
        showtime, _, chosen = await self._selection(body)
        now = utcnow()
        sold = await self._sold(showtime.id, now, body.seat_ids)
        if sold:
            raise _taken_error(sold)
        ttl = self.settings.seat_hold_ttl_seconds
        try:
            result = await self.holds.hold(
                str(showtime.id),
                [str(s.id) for s in chosen],
                str(user.user_id),
                ttl,
                limit=self.settings.max_seats_per_booking,
            )
        except HoldsUnavailable as exc:
            log.warning("holds_unavailable", action="hold", error=str(exc))
            return HoldOut(
                showtime_id=showtime.id,
                seat_ids=body.seat_ids,
                held=False,
                expires_at=None,
                hold_ttl_seconds=ttl,
            )
        self._raise_unless_held(result, chosen)
        return HoldOut(
            showtime_id=showtime.id,
            seat_ids=body.seat_ids,
            held=True,
            expires_at=now + dt.timedelta(seconds=ttl),
            hold_ttl_seconds=ttl,
        )

    def _raise_unless_held(self, result: HoldResult, chosen: list[SeatInfo]) -> None:
        if result.taken:
            taken = set(result.taken)
            raise _taken_error(s for s in chosen if str(s.id) in taken)
        if result.over_limit:
            cap = self.settings.max_seats_per_booking
            raise TooManySeats(
                f"At most {cap} seats of a showtime may be held at once; you hold "
                f"{result.owner_count}. Release some or book them first."
            )

    async def release(self, user: Principal, body: SeatSelection) -> ReleaseOut:
        """Release the caller's own holds among the seats (others' holds stay)."""
        try:
            released = await self.holds.release(
                str(body.showtime_id), [str(s) for s in body.seat_ids], str(user.user_id)
            )
        except HoldsUnavailable as exc:
            log.warning("holds_unavailable", action="release", error=str(exc))
            released = []
        return ReleaseOut(showtime_id=body.showtime_id, released=[uuid.UUID(s) for s in released])

    # -- booking ------------------------------------------------------------------------

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
            raise _taken_error(sold)
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
                raise _taken_error(sold)
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

    async def _release_quietly(
        self, showtime_id: uuid.UUID, seats: Collection[str], user: Principal
    ) -> None:
        if not seats:
            return
        try:
            await self.holds.release(str(showtime_id), list(seats), str(user.user_id))
        except HoldsUnavailable as exc:
            log.warning("holds_unavailable", action="release", error=str(exc))

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
            labels = [_label(s) for s in stranded]
            raise SeatSelectionLeavesGap(labels, [str(s.id) for s in stranded])

    async def _unavailable_to(
        self, user: Principal | None, showtime_id: uuid.UUID, now: dt.datetime
    ) -> set[uuid.UUID]:
        """Seats the caller cannot take now: sold, or held by someone else."""
        taken = {s.seat_id for s in await self._sold(showtime_id, now, None)}
        me = str(user.user_id) if user else None
        holders = await self._holders(showtime_id)
        return taken | {uuid.UUID(seat) for seat, owner in holders.items() if owner != me}

    # -- what the seats are now -------------------------------------------------------------

    async def seat_status(
        self, showtime_id: uuid.UUID, user: Principal | None
    ) -> dict[str, SeatState]:
        """Seats that are not free: booked, held by someone else, or held by the caller."""
        me = str(user.user_id) if user else None
        states: dict[str, SeatState] = {
            seat: ("mine" if owner == me else "held")
            for seat, owner in (await self._holders(showtime_id)).items()
        }
        for seat in await self._sold(showtime_id, utcnow(), None):
            states[str(seat.seat_id)] = "booked"
        return states

    async def best_seats(
        self, showtime_id: uuid.UUID, count: int, user: Principal | None
    ) -> list[SeatInfo]:
        """The best `count` adjacent seats the caller could book now."""
        self._check_count(count)
        showtime = await self.catalog.showtime(showtime_id)
        layout = await self.catalog.seats(showtime.theater_id)
        taken = await self._unavailable_to(user, showtime_id, utcnow())
        return best_seats(layout, taken, count)

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
