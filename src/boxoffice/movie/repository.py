"""Every query of the movie service."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.db import utcnow
from boxoffice.movie.models import Base, Movie, Seat, Showtime, ShowtimeBooking, Theater


@dataclass(frozen=True, slots=True)
class Page:
    limit: int
    offset: int


@dataclass(frozen=True, slots=True)
class ShowtimeRow:
    """A showtime with the names a listing shows beside it, and its free seats."""

    showtime: Showtime
    movie_title: str
    theater_name: str
    city: str
    timezone: str
    available_seats: int


@dataclass(frozen=True, slots=True)
class Screening:
    """When a showtime starts and how long its movie runs (for the overlap rule)."""

    id: uuid.UUID
    show_date: dt.date
    show_time: dt.time
    duration_minutes: int


def _same_text(column: Any, value: str) -> Any:
    return sa.func.lower(column) == value.lower()


# Movies


async def list_active_movies(
    session: AsyncSession,
    *,
    q: str | None,
    genre: str | None,
    language: str | None,
    page: Page,
    include_inactive: bool = False,
) -> Sequence[Movie]:
    query = sa.select(Movie)
    if not include_inactive:
        query = query.where(Movie.is_active.is_(True))
    if q:
        query = query.where(
            sa.or_(
                Movie.title.icontains(q, autoescape=True),
                Movie.description.icontains(q, autoescape=True),
                Movie.director.icontains(q, autoescape=True),
            )
        )
    if genre:
        query = query.where(_same_text(Movie.genre, genre))
    if language:
        query = query.where(_same_text(Movie.language, language))
    query = query.order_by(Movie.title, Movie.id).limit(page.limit).offset(page.offset)
    return (await session.scalars(query)).all()


async def get_movie(session: AsyncSession, movie_id: uuid.UUID) -> Movie | None:
    return await session.get(Movie, movie_id)


# Theaters and seats


async def list_theaters(
    session: AsyncSession, *, city: str | None, page: Page, include_inactive: bool = False
) -> Sequence[Theater]:
    query = sa.select(Theater)
    if not include_inactive:
        query = query.where(Theater.is_active.is_(True))
    if city:
        query = query.where(_same_text(Theater.city, city))
    query = query.order_by(Theater.city, Theater.name, Theater.id)
    return (await session.scalars(query.limit(page.limit).offset(page.offset))).all()


async def get_theater(session: AsyncSession, theater_id: uuid.UUID) -> Theater | None:
    return await session.get(Theater, theater_id)


async def list_seats(session: AsyncSession, theater_id: uuid.UUID) -> Sequence[Seat]:
    # Rows are one letter (A–Z), so ordering by the letter is ordering by row.
    query = (
        sa.select(Seat)
        .where(Seat.theater_id == theater_id)
        .order_by(Seat.seat_row, Seat.seat_number)
    )
    return (await session.scalars(query)).all()


# Showtimes


def _showtime_rows() -> sa.Select[Any]:
    taken = (
        sa.select(sa.func.coalesce(sa.func.sum(ShowtimeBooking.seats), 0))
        .where(ShowtimeBooking.showtime_id == Showtime.id, ShowtimeBooking.released.is_(False))
        .correlate(Showtime)
        .scalar_subquery()
    )
    free = Showtime.total_seats - taken
    return (
        sa.select(
            Showtime,
            Movie.title,
            Theater.name,
            Theater.city,
            Theater.timezone,
            sa.case((free < 0, 0), else_=free).label("available_seats"),
        )
        .join(Movie, Movie.id == Showtime.movie_id)
        .join(Theater, Theater.id == Showtime.theater_id)
    )


async def list_showtimes(
    session: AsyncSession,
    *,
    movie_id: uuid.UUID | None,
    theater_id: uuid.UUID | None,
    show_date: dt.date | None,
    city: str | None,
    starting_after: dt.datetime | None,
    page: Page,
    include_inactive: bool = False,
) -> list[ShowtimeRow]:
    """Active showtimes of active movies in active theaters by local date and time (all of
    them with `include_inactive`); with `starting_after`, only those that start later than
    that instant."""
    query = _showtime_rows()
    if not include_inactive:
        query = query.where(
            Movie.is_active.is_(True), Theater.is_active.is_(True), Showtime.is_active.is_(True)
        )
    if starting_after is not None:
        query = query.where(Showtime.starts_at > starting_after)
    if movie_id:
        query = query.where(Showtime.movie_id == movie_id)
    if theater_id:
        query = query.where(Showtime.theater_id == theater_id)
    if show_date:
        query = query.where(Showtime.show_date == show_date)
    if city:
        query = query.where(_same_text(Theater.city, city))
    query = query.order_by(Showtime.show_date, Showtime.show_time, Theater.name, Showtime.id)
    result = await session.execute(query.limit(page.limit).offset(page.offset))
    return [ShowtimeRow(*row) for row in result.all()]


async def get_showtime_row(session: AsyncSession, showtime_id: uuid.UUID) -> ShowtimeRow | None:
    row = (await session.execute(_showtime_rows().where(Showtime.id == showtime_id))).first()
    return ShowtimeRow(*row) if row else None


async def get_showtime(session: AsyncSession, showtime_id: uuid.UUID) -> Showtime | None:
    return await session.get(Showtime, showtime_id)


async def has_showtimes(session: AsyncSession, theater_id: uuid.UUID) -> bool:
    query = sa.select(Showtime.id).where(Showtime.theater_id == theater_id).limit(1)
    return (await session.scalar(query)) is not None


async def booked_seats(session: AsyncSession, showtime_id: uuid.UUID) -> int:
    """Seats the booking ledger says live bookings of the showtime hold."""
    query = sa.select(sa.func.coalesce(sa.func.sum(ShowtimeBooking.seats), 0)).where(
        ShowtimeBooking.showtime_id == showtime_id, ShowtimeBooking.released.is_(False)
    )
    return int(await session.scalar(query) or 0)


async def lock_theater_schedule(session: AsyncSession, theater_id: uuid.UUID) -> None:
    """Serialize schedule changes of one theater until the transaction ends.

    A no-op UPDATE takes the row lock on PostgreSQL and the write lock on SQLite (whose
    driver starts the transaction at the first write), so two overlapping showtimes
    scheduled at once cannot both pass the overlap check.
    """
    await session.execute(
        sa.update(Theater).where(Theater.id == theater_id).values(rows=Theater.rows)
    )


async def screenings_between(
    session: AsyncSession, theater_id: uuid.UUID, first: dt.date, last: dt.date
) -> list[Screening]:
    query = (
        sa.select(Showtime.id, Showtime.show_date, Showtime.show_time, Movie.duration_minutes)
        .join(Movie, Movie.id == Showtime.movie_id)
        .where(Showtime.theater_id == theater_id, Showtime.show_date.between(first, last))
    )
    return [Screening(*row) for row in (await session.execute(query)).all()]


# The booking ledger behind available_seats


async def record_booking_seats(
    session: AsyncSession, booking_id: uuid.UUID, showtime_id: uuid.UUID, seats: int
) -> bool:
    """The booking holds its seats, unless the ledger knew it (or of its release); True if
    this changed the ledger."""
    return await _upsert_ledger(session, booking_id, showtime_id, seats, released=False)


async def record_booking_release(
    session: AsyncSession, booking_id: uuid.UUID, showtime_id: uuid.UUID, seats: int
) -> bool:
    """The booking gave its seats back (also when its creation has not arrived yet)."""
    return await _upsert_ledger(session, booking_id, showtime_id, seats, released=True)


async def _upsert_ledger(
    session: AsyncSession,
    booking_id: uuid.UUID,
    showtime_id: uuid.UUID,
    seats: int,
    *,
    released: bool,
) -> bool:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    row = {
        "booking_id": booking_id,
        "showtime_id": showtime_id,
        "seats": seats,
        "released": released,
        "updated_at": utcnow(),
    }
    statement = insert(ShowtimeBooking).values(row)
    if released:
        # A release wins over the creation, whichever came first; a second one changes nothing.
        statement = statement.on_conflict_do_update(
            index_elements=["booking_id"],
            set_={"released": True, "updated_at": row["updated_at"]},
            where=ShowtimeBooking.released.is_(False),
        )
    else:
        statement = statement.on_conflict_do_nothing(index_elements=["booking_id"])
    result = await session.execute(statement)
    return bool(result.rowcount)  # type: ignore[attr-defined]


# Demo catalog


async def insert_missing(
    session: AsyncSession, model: type[Base], rows: list[dict[str, Any]]
) -> None:
    """Insert the rows whose keys are not taken yet.

    ON CONFLICT DO NOTHING lets two processes load the same rows at once without either failing.
    """
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await session.execute(insert(model.__table__).on_conflict_do_nothing(), rows)


async def count(session: AsyncSession, model: type[Base]) -> int:
    return int(await session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)
