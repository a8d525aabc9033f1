"""Every query of the booking service: `BookingRepository`, the booking aggregate (a booking
and its seats). It runs on the caller's session and never commits."""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from boxoffice.booking.models import (
    CONFIRMED,
    LIVE_STATUSES,
    PAID,
    PENDING,
    Booking,
    BookingSeat,
)
from boxoffice.core.db import lock_key
from boxoffice.core.repository import RepositoryBase


@dataclass(frozen=True, slots=True)
class LiveSeat:
    """A seat some live booking has (or had, if that booking is past its expiry)."""

    seat_id: uuid.UUID
    booking_id: uuid.UUID
    user_id: uuid.UUID
    seat_row: str
    seat_number: int
    overdue: bool
    # When the booking is still unpaid: the time it runs out.
    unpaid_until: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class UnpaidSeats:
    """How many seats a customer keeps in pending, unexpired bookings."""

    here: int
    in_all: int


def _unpaid_seats_query() -> sa.Select[tuple[int, int]]:
    # Built once: every booking and hold counts, and building the expression each time cost
    # a quarter of the count's CPU (py-spy in a flash sale).
    here = sa.case(
        (
            Booking.showtime_id == sa.bindparam("showtime_id", type_=Booking.showtime_id.type),
            Booking.total_seats,
        ),
        else_=0,
    )
    return sa.select(
        sa.func.coalesce(sa.func.sum(here), 0),
        sa.func.coalesce(sa.func.sum(Booking.total_seats), 0),
    ).where(
        Booking.user_id == sa.bindparam("user_id", type_=Booking.user_id.type),
        Booking.status == PENDING,
        Booking.expires_at > sa.bindparam("now", type_=Booking.expires_at.type),
    )


_UNPAID_SEATS = _unpaid_seats_query()


# A booking with its seats, in one query, fresh from the database (the reads of the
# payment's and the check-in's paths). Built once, like the statements below: building a
# statement is most of what SQLAlchemy costs to run it (py-spy in a flash sale).
_WITH_SEATS = (
    sa.select(Booking)
    .where(Booking.id == sa.bindparam("booking_id", type_=Booking.id.type))
    .options(joinedload(Booking.seats))
    .execution_options(populate_existing=True)
)

# Seats of live bookings of a showtime, of all of them or of some.
_LIVE_SEATS = (
    sa.select(
        BookingSeat.seat_id,
        BookingSeat.booking_id,
        Booking.user_id,
        BookingSeat.seat_row,
        BookingSeat.seat_number,
        Booking.status,
        Booking.expires_at,
    )
    .join(Booking, Booking.id == BookingSeat.booking_id)
    .where(
        BookingSeat.showtime_id == sa.bindparam("showtime_id", type_=BookingSeat.showtime_id.type),
        BookingSeat.status.in_(LIVE_STATUSES),
    )
)
_LIVE_SEATS_AMONG = _LIVE_SEATS.where(
    BookingSeat.seat_id.in_(sa.bindparam("seat_ids", expanding=True))
)


def _dialect(session: Any) -> str:
    """The session's database: "postgresql" or "sqlite"."""
    bind = session.bind
    return "postgresql" if bind is not None and bind.dialect.name == "postgresql" else "sqlite"


@dataclass(frozen=True, slots=True)
class _BookingInserts:
    """A new booking's two INSERTs for one database (their rows come as parameters)."""

    booking: sa.Insert
    # With no target, ON CONFLICT is about any unique index: only the live-seat one can
    # refuse a seat (the ids are new uuids). It returns the seats it did insert.
    seats: Any

    @classmethod
    def of(cls, dialect: Any) -> _BookingInserts:
        seats = BookingSeat.__table__
        return cls(
            booking=sa.insert(Booking.__table__),
            seats=dialect.insert(seats).on_conflict_do_nothing().returning(seats.c.seat_id),
        )


_INSERTS = {"postgresql": _BookingInserts.of(postgresql), "sqlite": _BookingInserts.of(sqlite)}


def _columns(row: Booking | BookingSeat) -> dict[str, Any]:
    """The column values set on a new row (an ORM bulk insert's parameters)."""
    state = sa.inspect(row)
    return {
        attr.key: state.dict[attr.key]
        for attr in state.mapper.column_attrs
        if attr.key in state.dict
    }


@dataclass(frozen=True, slots=True)
class SeatTypeSales:
    seat_type: str
    seats: int
    revenue: Decimal


@dataclass(frozen=True, slots=True)
class PaidBooking:
    confirmed_at: dt.datetime
    seats: int
    revenue: Decimal


@functools.lru_cache(maxsize=64)
def _transition_statement(
    from_statuses: tuple[str, ...],
    columns: tuple[str, ...],
    *,
    unexpired: bool,
    expired: bool,
    payment_statuses: tuple[str, ...] | None,
    checked_in: bool | None,
    refund_approved: bool | None,
) -> sa.Update:
    """`BookingRepository.transition`'s guarded UPDATE, one per shape (a dozen in all), its
    values as parameters: `booking_id`, `unexpired_at`, `expired_at` and `set_<column>`."""
    query = sa.update(Booking).where(
        Booking.id == sa.bindparam("booking_id", type_=Booking.id.type),
        Booking.status.in_(from_statuses),
    )
    if unexpired:
        query = query.where(Booking.expires_at > sa.bindparam("unexpired_at"))
    if expired:
        query = query.where(Booking.expires_at <= sa.bindparam("expired_at"))
    if payment_statuses is not None:
        query = query.where(Booking.payment_status.in_(payment_statuses))
    if checked_in is not None:
        column = Booking.checked_in_at
        query = query.where(column.is_not(None) if checked_in else column.is_(None))
    if refund_approved is not None:
        column = Booking.refund_approved_at
        query = query.where(column.is_not(None) if refund_approved else column.is_(None))
    table = Booking.__table__
    values = {key: sa.bindparam(f"set_{key}", type_=table.c[key].type) for key in columns}
    return query.values(values).execution_options(synchronize_session=False)


_SET_SEATS_STATUS = (
    sa.update(BookingSeat)
    .where(BookingSeat.booking_id == sa.bindparam("of_booking", type_=BookingSeat.booking_id.type))
    .values(status=sa.bindparam("seat_status", type_=BookingSeat.status.type))
    .execution_options(synchronize_session=False)
)


class BookingRepository(RepositoryBase[Booking]):
    """Bookings and their seats: reading, inserting, guarded transitions, and the counts the
    fair-share caps and the sales reports need."""

    model = Booking

    # Reading bookings

    async def with_seats(self, booking_id: uuid.UUID) -> Booking | None:
        """A booking with its seats, in one query (fresh from the database)."""
        result = await self.session.execute(_WITH_SEATS, {"booking_id": booking_id})
        return result.unique().scalar_one_or_none()

    async def by_code(self, code: str) -> Booking | None:
        """The booking with this code, with its seats."""
        result = await self.session.execute(
            sa.select(Booking)
            .where(Booking.booking_code == code)
            .options(joinedload(Booking.seats))
            .execution_options(populate_existing=True)
        )
        return result.unique().scalar_one_or_none()

    async def newest_first(
        self,
        *,
        user_id: uuid.UUID | None,
        showtime_id: uuid.UUID | None,
        limit: int,
        offset: int,
        booking_code: str | None = None,
    ) -> Sequence[Booking]:
        """Bookings newest first, of one user (or everyone's when `user_id` is None)."""
        query = self.select().options(selectinload(Booking.seats))
        if user_id is not None:
            query = query.where(Booking.user_id == user_id)
        if showtime_id is not None:
            query = query.where(Booking.showtime_id == showtime_id)
        if booking_code is not None:
            query = query.where(Booking.booking_code == booking_code)
        query = query.order_by(Booking.created_at.desc(), Booking.id).limit(limit).offset(offset)
        return await self.all(query)

    async def live_seats(
        self,
        showtime_id: uuid.UUID,
        now: dt.datetime,
        seat_ids: Collection[uuid.UUID] | None = None,
    ) -> list[LiveSeat]:
        """Seats of live bookings of a showtime (only `seat_ids`, when given)."""
        if seat_ids is None:
            query, parameters = _LIVE_SEATS, {"showtime_id": showtime_id}
        else:
            query = _LIVE_SEATS_AMONG
            parameters = {"showtime_id": showtime_id, "seat_ids": list(seat_ids)}
        rows = (await self.session.execute(query, parameters)).all()
        return [
            LiveSeat(
                seat_id=r.seat_id,
                booking_id=r.booking_id,
                user_id=r.user_id,
                seat_row=r.seat_row,
                seat_number=r.seat_number,
                overdue=r.status == PENDING and r.expires_at <= now,
                unpaid_until=r.expires_at if r.status == PENDING else None,
            )
            for r in rows
        ]

    async def overdue_ids(self, now: dt.datetime, limit: int) -> Sequence[uuid.UUID]:
        """Pending bookings past their expiry, oldest first."""
        result = await self.session.execute(
            sa.select(Booking.id)
            .where(Booking.status == PENDING, Booking.expires_at <= now)
            .order_by(Booking.expires_at)
            .limit(limit)
        )
        return result.scalars().all()

    # Making a booking

    async def lock_customer(self, user_id: uuid.UUID) -> None:
        """Serialise one customer's bookings until this transaction ends (`lock_key`); a
        booking's count then follows the lock (see BookingService._insert)."""
        await lock_key(self.session, user_id)

    async def unpaid_seats(
        self, user_id: uuid.UUID, showtime_id: uuid.UUID, now: dt.datetime
    ) -> UnpaidSeats:
        """Seats of the customer's pending bookings not yet past their expiry: of one
        showtime, and in all."""
        row = (
            await self.session.execute(
                _UNPAID_SEATS, {"user_id": user_id, "showtime_id": showtime_id, "now": now}
            )
        ).one()
        return UnpaidSeats(here=int(row[0]), in_all=int(row[1]))

    async def insert(self, booking: Booking) -> list[uuid.UUID]:
        """Insert a booking built whole in memory, and its seats; the seats the live-seat
        index refused (an empty list when the booking is in).

        Two INSERTs. The seats' is one multi-row statement that does nothing on a conflict
        and returns what it did insert, so losing the race to the index raises no error: the
        refused booking is deleted again in the same transaction, which goes on healthy, and
        the caller's earlier work in it stays. A savepoint around the inserts did the same
        for two more round trips in every booking (SAVEPOINT, RELEASE); this costs two only
        when a booking loses.

        Bulk inserts, not the unit of work: the booking is complete and only read afterwards,
        and tracking it cost more than inserting it (the flush was 8 % of the booking
        service's CPU in a flash sale). It stays a plain object, outside the session.

        Both are statements built once (`_INSERTS`), given the rows as parameters: SQLAlchemy
        still sends the seats as one multi-row INSERT (its "insertmanyvalues"), but from its
        compiled cache. A statement with the rows in its VALUES is never cached: it was
        compiled anew for every booking, 4 % of the booking service's CPU in a flash sale."""
        statements = _INSERTS[_dialect(self.session)]
        await self.session.execute(statements.booking, [_columns(booking)])
        rows = [_columns(s) for s in booking.seats]
        inserted = set((await self.session.execute(statements.seats, rows)).scalars())
        refused = [s.seat_id for s in booking.seats if s.seat_id not in inserted]
        if refused:
            await self.session.execute(
                sa.delete(BookingSeat).where(BookingSeat.booking_id == booking.id)
            )
            await self.session.execute(sa.delete(Booking).where(Booking.id == booking.id))
        return refused

    # Moving a booking on

    async def transition(
        self,
        booking_id: uuid.UUID,
        *,
        from_statuses: Collection[str],
        values: dict[str, Any],
        unexpired_at: dt.datetime | None = None,
        expired_at: dt.datetime | None = None,
        payment_statuses: Collection[str] | None = None,
        checked_in: bool | None = None,
        refund_approved: bool | None = None,
    ) -> bool:
        """Move a booking on only if it is still in one of `from_statuses` (and, when given,
        not yet / already past its expiry at that time). True if this call made the change.

        Guarded updates instead of read-then-write: of two racing transitions (cancel against
        confirm, two sweepers) exactly one sees its condition hold; the database row lock
        decides.
        """
        statement = _transition_statement(
            tuple(from_statuses),
            tuple(values),
            unexpired=unexpired_at is not None,
            expired=expired_at is not None,
            payment_statuses=None if payment_statuses is None else tuple(payment_statuses),
            checked_in=checked_in,
            refund_approved=refund_approved,
        )
        parameters = {f"set_{key}": value for key, value in values.items()}
        parameters["booking_id"] = booking_id
        if unexpired_at is not None:
            parameters["unexpired_at"] = unexpired_at
        if expired_at is not None:
            parameters["expired_at"] = expired_at
        result = await self.session.execute(statement, parameters)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def set_seats_status(self, booking_id: uuid.UUID, status: str) -> None:
        await self.session.execute(
            _SET_SEATS_STATUS, {"of_booking": booking_id, "seat_status": status}
        )

    @staticmethod
    def show_committed(booking: Booking, values: dict[str, Any], seat_status: str | None) -> None:
        """Make a loaded booking show what a guarded update just wrote (without reading it
        back)."""
        for name, value in values.items():
            set_committed_value(booking, name, value)
        if seat_status is not None:
            for seat in booking.seats:
                set_committed_value(seat, "status", seat_status)

    # Sales (the admin's reports)

    async def paid_seats_by_type(self, showtime_id: uuid.UUID) -> list[SeatTypeSales]:
        """Seats of the showtime's confirmed, paid bookings, and what they cost, by seat
        type."""
        query = (
            sa.select(
                BookingSeat.seat_type,
                sa.func.count(BookingSeat.id),
                sa.func.coalesce(sa.func.sum(BookingSeat.price), 0),
            )
            .join(Booking, Booking.id == BookingSeat.booking_id)
            .where(
                Booking.showtime_id == showtime_id,
                Booking.status == CONFIRMED,
                Booking.payment_status == PAID,
            )
            .group_by(BookingSeat.seat_type)
            .order_by(BookingSeat.seat_type)
        )
        rows = (await self.session.execute(query)).all()
        return [SeatTypeSales(r[0], int(r[1]), Decimal(str(r[2]))) for r in rows]

    async def awaiting_payment_seats(self, showtime_id: uuid.UUID, now: dt.datetime) -> int:
        """Seats of the showtime's pending bookings not yet past their expiry."""
        query = sa.select(sa.func.coalesce(sa.func.sum(Booking.total_seats), 0)).where(
            Booking.showtime_id == showtime_id, Booking.status == PENDING, Booking.expires_at > now
        )
        return int(await self.session.scalar(query) or 0)

    async def paid_between(self, start: dt.datetime, end: dt.datetime) -> list[PaidBooking]:
        """Confirmed, paid bookings whose payment confirmed them in [start, end)."""
        query = sa.select(Booking.confirmed_at, Booking.total_seats, Booking.total_price).where(
            Booking.status == CONFIRMED,
            Booking.payment_status == PAID,
            Booking.confirmed_at >= start,
            Booking.confirmed_at < end,
        )
        rows = (await self.session.execute(query)).all()
        return [PaidBooking(at, seats, price) for at, seats, price in rows if at is not None]
