"""Every query of the movie service: one repository per aggregate (movies, theaters with their
seats, showtimes, and the seat-count ledger the booking events keep)."""

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
from boxoffice.core.repository import RepositoryBase
from boxoffice.movie.models import Movie, Seat, Showtime, ShowtimeBooking, Theater


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


def _insert(session: AsyncSession) -> Any:
    """The dialect's INSERT (both have ON CONFLICT)."""
    dialect = session.get_bind().dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


async def _insert_missing(session: AsyncSession, model: Any, rows: list[dict[str, Any]]) -> None:
    """Insert the rows whose keys are not taken yet.

    ON CONFLICT DO NOTHING lets two processes load the same rows at once without either failing.
    """
    if rows:
        await session.execute(_insert(session)(model.__table__).on_conflict_do_nothing(), rows)


class MovieRepository(RepositoryBase[Movie]):
    model = Movie

    async def listing(
        self,
        *,
        q: str | None,
        genre: str | None,
        language: str | None,
        page: Page,
        include_inactive: bool = False,
    ) -> Sequence[Movie]:
        query = self.select()
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
        return await self.all(query)

    async def insert_missing(self, rows: list[dict[str, Any]]) -> None:
        await _insert_missing(self.session, Movie, rows)


class TheaterRepository(RepositoryBase[Theater]):
    """Theaters and their seats (a layout is part of its theater)."""

    model = Theater

    async def listing(
        self, *, city: str | None, page: Page, include_inactive: bool = False
    ) -> Sequence[Theater]:
        query = self.select()
        if not include_inactive:
            query = query.where(Theater.is_active.is_(True))
        if city:
            query = query.where(_same_text(Theater.city, city))
        query = query.order_by(Theater.city, Theater.name, Theater.id)
        return await self.all(query.limit(page.limit).offset(page.offset))

    async def seats(self, theater_id: uuid.UUID) -> Sequence[Seat]:
        # Rows are one letter (A–Z), so ordering by the letter is ordering by row.
        query = (
            sa.select(Seat)
            .where(Seat.theater_id == theater_id)
            .order_by(Seat.seat_row, Seat.seat_number)
        )
        return (await self.session.scalars(query)).all()

    async def add_seats(self, seats: list[Seat]) -> None:
        """Insert a theater's seats (after the theater) and flush."""
        self.session.add_all(seats)
        await self.session.flush()

    async def lock_schedule(self, theater_id: uuid.UUID) -> None:
        """Serialize schedule changes of one theater until the transaction ends.

        A no-op UPDATE takes the row lock on PostgreSQL and the write lock on SQLite (whose
        driver starts the transaction at the first write), so two overlapping showtimes
        scheduled at once cannot both pass the overlap check.
        """
        await self.session.execute(
            sa.update(Theater).where(Theater.id == theater_id).values(rows=Theater.rows)
        )

    async def insert_missing(self, rows: list[dict[str, Any]]) -> None:
        await _insert_missing(self.session, Theater, rows)

    async def insert_missing_seats(self, rows: list[dict[str, Any]]) -> None:
        await _insert_missing(self.session, Seat, rows)

    async def count_seats(self) -> int:
        return await self.count(sa.select(Seat))


class ShowtimeRepository(RepositoryBase[Showtime]):
    model = Showtime

    @staticmethod
    def _rows() -> sa.Select[Any]:
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

    async def listing(
        self,
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
        query = self._rows()
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
        result = await self.session.execute(query.limit(page.limit).offset(page.offset))
        return [ShowtimeRow(*row) for row in result.all()]

    async def row(self, showtime_id: uuid.UUID) -> ShowtimeRow | None:
        """The showtime, its movie's title, its theater's name, city and zone, free seats."""
        query = self._rows().where(Showtime.id == showtime_id)
        found = (await self.session.execute(query)).first()
        return ShowtimeRow(*found) if found else None

    async def any_in(self, theater_id: uuid.UUID) -> bool:
        """Whether the theater has (or had) any showtime."""
        query = sa.select(Showtime.id).where(Showtime.theater_id == theater_id).limit(1)
        return (await self.session.scalar(query)) is not None

    async def screenings_between(
        self, theater_id: uuid.UUID, first: dt.date, last: dt.date
    ) -> list[Screening]:
        query = (
            sa.select(Showtime.id, Showtime.show_date, Showtime.show_time, Movie.duration_minutes)
            .join(Movie, Movie.id == Showtime.movie_id)
            .where(Showtime.theater_id == theater_id, Showtime.show_date.between(first, last))
        )
        return [Screening(*row) for row in (await self.session.execute(query)).all()]

    async def insert_missing(self, rows: list[dict[str, Any]]) -> None:
        await _insert_missing(self.session, Showtime, rows)


class SeatLedgerRepository(RepositoryBase[ShowtimeBooking]):
    """The ledger behind a showtime's `available_seats`, kept true from the booking events.

    Each booking is one ledger row (its seat count, and whether it still holds them), written
    with one upsert and no lock; the count is the ledger's sum when a showtime is read, so a
    repeated event changes nothing, a release that arrives before its booking's creation still
    wins, and the bookings of one showtime never queue on one row.
    """

    model = ShowtimeBooking

    async def booked_seats(self, showtime_id: uuid.UUID) -> int:
        """Seats the ledger says live bookings of the showtime hold."""
        query = sa.select(sa.func.coalesce(sa.func.sum(ShowtimeBooking.seats), 0)).where(
            ShowtimeBooking.showtime_id == showtime_id, ShowtimeBooking.released.is_(False)
        )
        return int(await self.session.scalar(query) or 0)

    async def record_holds(self, booking_id: uuid.UUID, showtime_id: uuid.UUID, seats: int) -> bool:
        """The booking holds its seats, unless the ledger knew it (or of its release); True if
        this changed the ledger."""
        return await self._upsert(booking_id, showtime_id, seats, released=False)

    async def record_release(
        self, booking_id: uuid.UUID, showtime_id: uuid.UUID, seats: int
    ) -> bool:
        """The booking gave its seats back (also when its creation has not arrived yet)."""
        return await self._upsert(booking_id, showtime_id, seats, released=True)

    async def _upsert(
        self, booking_id: uuid.UUID, showtime_id: uuid.UUID, seats: int, *, released: bool
    ) -> bool:
        row = {
            "booking_id": booking_id,
            "showtime_id": showtime_id,
            "seats": seats,
            "released": released,
            "updated_at": utcnow(),
        }
        statement = _insert(self.session)(ShowtimeBooking).values(row)
        if released:
            # A release wins over the creation, whichever came first; a second one changes
            # nothing.
            statement = statement.on_conflict_do_update(
                index_elements=["booking_id"],
                set_={"released": True, "updated_at": row["updated_at"]},
                where=ShowtimeBooking.released.is_(False),
            )
        else:
            statement = statement.on_conflict_do_nothing(index_elements=["booking_id"])
        result = await self.session.execute(statement)
        return bool(result.rowcount)  # type: ignore[attr-defined]
