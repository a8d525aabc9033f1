"""The catalog's rules: what is listed, how theaters are laid out, when showtimes may run."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.db import utcnow
from boxoffice.core.events import record_event
from boxoffice.core.localtime import local_now, starts_at
from boxoffice.movie import repository as repo
from boxoffice.movie.cache import CatalogCache, PendingInvalidations, ShortLived
from boxoffice.movie.errors import (
    MovieNotFound,
    MovieNotShowing,
    ShowtimeHasBookings,
    ShowtimeInPast,
    ShowtimeNotFound,
    ShowtimeOverlaps,
    TheaterInUse,
    TheaterNotActive,
    TheaterNotFound,
)
from boxoffice.movie.models import Movie, Seat, Showtime, Theater
from boxoffice.movie.repository import Page, ShowtimeRow
from boxoffice.movie.schemas import (
    ROW_LETTERS,
    MovieCreate,
    MovieOut,
    MovieUpdate,
    ShowtimeCreate,
    ShowtimeOut,
    ShowtimeUpdate,
    TheaterCreate,
    TheaterOut,
    TheaterUpdate,
    row_lengths,
)

_MOVIES = TypeAdapter(list[MovieOut])
_THEATERS = TypeAdapter(list[TheaterOut])
_SHOWTIMES = TypeAdapter(list[ShowtimeOut])


@dataclass(frozen=True, slots=True)
class ShowtimeFilters:
    movie_id: uuid.UUID | None = None
    theater_id: uuid.UUID | None = None
    show_date: dt.date | None = None
    city: str | None = None
    # Listings leave out showtimes that have started, unless asked (`?include_started=true`).
    include_started: bool = False
    # And deactivated ones (or of a deactivated movie or theater), unless asked (the admin's).
    include_inactive: bool = False


def _key(*parts: object) -> str:
    """A cache key for a query: its parameters, text lower-cased as the query compares it."""
    return json.dumps([p.lower() if isinstance(p, str) else str(p) for p in parts])


def showtime_out(row: ShowtimeRow) -> ShowtimeOut:
    s = row.showtime
    return ShowtimeOut(
        id=s.id,
        movie_id=s.movie_id,
        theater_id=s.theater_id,
        show_date=s.show_date,
        show_time=s.show_time,
        price=s.price,
        total_seats=s.total_seats,
        available_seats=row.available_seats,
        enforce_seat_rules=s.enforce_seat_rules,
        movie_title=row.movie_title,
        theater_name=row.theater_name,
        city=row.city,
        timezone=row.timezone,
        starts_at=s.starts_at,
        is_active=s.is_active,
    )


def record_catalog_change(session: AsyncSession, name: str, **ids: uuid.UUID) -> None:
    """Announce that a movie, theater or showtime changed (`movie.updated`, `theater.updated`,
    `showtime.updated`), so other services drop what they keep of it (docs/contracts.md)."""
    aggregate = next(iter(ids.values()))
    record_event(session, name, {k: str(v) for k, v in ids.items()}, aggregate_id=aggregate)


def layout_seats(theater: Theater) -> list[Seat]:
    """The seats of a theater's layout: rows A.., numbers from 1, VIP rows and aisles marked.

    Seat ids derive from the theater's id and the seat's label, so re-creating a layout (the
    demo catalog at every start) names the same seats.
    """
    seats = []
    lengths = row_lengths(theater.rows, theater.seats_per_row, theater.total_seats)
    for row, length in zip(ROW_LETTERS, lengths, strict=False):
        for number in range(1, length + 1):
            seats.append(
                Seat(
                    id=uuid.uuid5(theater.id, f"{row}{number}"),
                    theater_id=theater.id,
                    seat_row=row,
                    seat_number=number,
                    seat_type="vip" if row in theater.vip_rows else "standard",
                    aisle_after=number in theater.aisles_after,
                )
            )
    return seats


def overlapping(
    start: dt.datetime, minutes: int, others: Iterable[repo.Screening]
) -> repo.Screening | None:
    """The first screening that runs during [start, start + minutes), if any."""
    end = start + dt.timedelta(minutes=minutes)
    for other in others:
        other_start = dt.datetime.combine(other.show_date, other.show_time)
        other_end = other_start + dt.timedelta(minutes=other.duration_minutes)
        if other_start < end and start < other_end:
            return other
    return None


class MovieCatalog:
    """Catalog reads (cached, answered as JSON) and admin writes of one request."""

    def __init__(
        self,
        session: AsyncSession,
        cache: CatalogCache,
        pending: PendingInvalidations,
        default_timezone: str,
    ) -> None:
        self.session = session
        self.cache = cache
        self.pending = pending
        self.default_timezone = default_timezone

    # Reads: each answer is the JSON a route returns, cached until the next write.

    async def movies(
        self,
        *,
        q: str | None,
        genre: str | None,
        language: str | None,
        page: Page,
        include_inactive: bool = False,
    ) -> str:
        async def load() -> str:
            found = await repo.list_active_movies(
                self.session,
                q=q,
                genre=genre,
                language=language,
                page=page,
                include_inactive=include_inactive,
            )
            return _MOVIES.dump_json([MovieOut.model_validate(m) for m in found]).decode()

        key = _key(q, genre, language, page.limit, page.offset, include_inactive)
        return await self.cache.read("movies", "movie_list", key, load)

    async def movie(self, movie_id: uuid.UUID) -> str:
        async def load() -> str:
            return MovieOut.model_validate(await self._movie(movie_id)).model_dump_json()

        return await self.cache.read("movies", "movie", str(movie_id), load)

    async def theaters(
        self, *, city: str | None, page: Page, include_inactive: bool = False
    ) -> str:
        async def load() -> str:
            found = await repo.list_theaters(
                self.session, city=city, page=page, include_inactive=include_inactive
            )
            return _THEATERS.dump_json([TheaterOut.model_validate(t) for t in found]).decode()

        key = _key(city, page.limit, page.offset, include_inactive)
        return await self.cache.read("theaters", "theater_list", key, load)

    async def theater(self, theater_id: uuid.UUID) -> str:
        async def load() -> str:
            return TheaterOut.model_validate(await self._theater(theater_id)).model_dump_json()

        return await self.cache.read("theaters", "theater", str(theater_id), load)

    async def showtimes(self, filters: ShowtimeFilters, page: Page) -> str:
        async def load() -> str | ShortLived:
            now = utcnow()
            rows = await repo.list_showtimes(
                self.session,
                movie_id=filters.movie_id,
                theater_id=filters.theater_id,
                show_date=filters.show_date,
                city=filters.city,
                starting_after=None if filters.include_started else now,
                page=page,
                include_inactive=filters.include_inactive,
            )
            body = _SHOWTIMES.dump_json([showtime_out(r) for r in rows]).decode()
            if filters.include_started or not rows:
                return body
            # The listing is true until its first show starts (then that one must go).
            first = min(r.showtime.starts_at for r in rows)
            return ShortLived(body, (first - now).total_seconds())

        key = _key(
            filters.movie_id,
            filters.theater_id,
            filters.show_date,
            filters.city,
            filters.include_started,
            filters.include_inactive,
            page.limit,
            page.offset,
        )
        return await self.cache.read("showtimes", "showtime_list", key, load)

    async def showtime(self, showtime_id: uuid.UUID) -> str:
        async def load() -> str:
            row = await repo.get_showtime_row(self.session, showtime_id)
            if row is None:
                raise ShowtimeNotFound()
            return showtime_out(row).model_dump_json()

        return await self.cache.read("showtimes", "showtime", str(showtime_id), load)

    # Writes (admin). The request's session commits; the cache is invalidated after that.

    async def create_movie(self, data: MovieCreate) -> MovieOut:
        movie = Movie(**data.model_dump())
        self.session.add(movie)
        await self.session.flush()
        self.pending.add("movies")
        return MovieOut.model_validate(movie)

    async def update_movie(self, movie_id: uuid.UUID, changes: MovieUpdate) -> MovieOut:
        movie = await self._movie(movie_id)
        for name, value in changes.model_dump(exclude_unset=True).items():
            setattr(movie, name, value)
        await self.session.flush()
        # Showtime listings carry the title and hide the showtimes of inactive movies.
        self.pending.add("movies", "showtimes")
        record_catalog_change(self.session, "movie.updated", movie_id=movie.id)
        return MovieOut.model_validate(movie)

    async def deactivate_movie(self, movie_id: uuid.UUID) -> None:
        movie = await self._movie(movie_id)
        movie.is_active = False
        await self.session.flush()
        self.pending.add("movies", "showtimes")
        record_catalog_change(self.session, "movie.updated", movie_id=movie.id)

    async def create_theater(self, data: TheaterCreate) -> TheaterOut:
        """A theater and its seats; its time zone is the default setting's unless given."""
        rows, seats_per_row, total_seats = data.layout
        theater = Theater(
            id=uuid.uuid4(),
            name=data.name,
            location=data.location,
            city=data.city,
            rows=rows,
            seats_per_row=seats_per_row,
            vip_rows=data.vip_rows,
            aisles_after=data.aisles_after,
            total_seats=total_seats,
            timezone=data.timezone or self.default_timezone,
        )
        self.session.add(theater)
        await self.session.flush()
        self.session.add_all(layout_seats(theater))
        await self.session.flush()
        self.pending.add("theaters")
        return TheaterOut.model_validate(theater)

    async def update_theater(self, theater_id: uuid.UUID, changes: TheaterUpdate) -> TheaterOut:
        """Rename, move or (de)activate a theater; its time zone only while it has no
        showtimes (their start instants are read in it)."""
        theater = await self._theater(theater_id)
        values = changes.model_dump(exclude_unset=True)
        zone = values.get("timezone")
        if zone is not None and zone != theater.timezone:
            if await repo.has_showtimes(self.session, theater.id):
                raise TheaterInUse()
        for name, value in values.items():
            setattr(theater, name, value)
        await self.session.flush()
        # Showtime listings carry the theater's name and city and leave out inactive theaters.
        self.pending.add("theaters", "showtimes")
        record_catalog_change(self.session, "theater.updated", theater_id=theater.id)
        return TheaterOut.model_validate(theater)

    async def deactivate_theater(self, theater_id: uuid.UUID) -> None:
        """Take a theater and its showtimes off the listings; kept for its bookings."""
        await self.update_theater(theater_id, TheaterUpdate(is_active=False))

    async def create_showtime(self, data: ShowtimeCreate) -> ShowtimeOut:
        movie = await self._movie(data.movie_id)
        if not movie.is_active:
            raise MovieNotShowing(f"Movie '{movie.title}' is not showing")
        theater = await self._theater(data.theater_id)
        if not theater.is_active:
            raise TheaterNotActive(f"Theater '{theater.name}' is not active")
        start_instant = await self._check_schedule(movie, theater, data.show_date, data.show_time)
        showtime = Showtime(
            movie_id=movie.id,
            theater_id=theater.id,
            show_date=data.show_date,
            show_time=data.show_time,
            starts_at=start_instant,
            price=data.price,
            total_seats=theater.total_seats,
            enforce_seat_rules=data.enforce_seat_rules,
        )
        self.session.add(showtime)
        await self.session.flush()
        self.pending.add("showtimes")
        return showtime_out(
            ShowtimeRow(
                showtime,
                movie.title,
                theater.name,
                theater.city,
                theater.timezone,
                theater.total_seats,
            )
        )

    async def update_showtime(self, showtime_id: uuid.UUID, changes: ShowtimeUpdate) -> ShowtimeOut:
        """Change a showtime's price (for bookings from now on), seat rules or active flag;
        its date and time only while no seat of it is booked, under a new showtime's rules."""
        showtime = await repo.get_showtime(self.session, showtime_id)
        if showtime is None:
            raise ShowtimeNotFound()
        values = changes.model_dump(exclude_unset=True)
        day = values.pop("show_date", showtime.show_date)
        clock = values.pop("show_time", showtime.show_time)
        if (day, clock) != (showtime.show_date, showtime.show_time):
            if await repo.booked_seats(self.session, showtime.id):
                raise ShowtimeHasBookings()
            movie = await self._movie(showtime.movie_id)
            theater = await self._theater(showtime.theater_id)
            showtime.starts_at = await self._check_schedule(
                movie, theater, day, clock, moving=showtime.id
            )
            showtime.show_date, showtime.show_time = day, clock
        for name, value in values.items():
            setattr(showtime, name, value)
        await self.session.flush()
        self.pending.add("showtimes")
        record_catalog_change(self.session, "showtime.updated", showtime_id=showtime.id)
        row = await repo.get_showtime_row(self.session, showtime.id)
        assert row is not None
        return showtime_out(row)

    async def deactivate_showtime(self, showtime_id: uuid.UUID) -> None:
        """Take a showtime off the listings and off sale; its bookings stay as they are."""
        await self.update_showtime(showtime_id, ShowtimeUpdate(is_active=False))

    async def _check_schedule(
        self,
        movie: Movie,
        theater: Theater,
        show_date: dt.date,
        show_time: dt.time,
        moving: uuid.UUID | None = None,
    ) -> dt.datetime:
        """The instant a screening at that local date and time starts: refused when it is past
        or overlaps another screening of the theater (other than `moving`, the one being
        rescheduled). Locks the theater's schedule until the transaction ends."""
        start_instant = starts_at(show_date, show_time, theater.timezone)
        if start_instant <= utcnow():
            raise ShowtimeInPast(
                f"This showtime would start at {show_date} {show_time:%H:%M} in "
                f"{theater.timezone}, which is already past (the time there is now "
                f"{local_now(theater.timezone):%Y-%m-%d %H:%M}); schedule it in the future"
            )
        await repo.lock_theater_schedule(self.session, theater.id)
        # A screening that starts the day before can run past midnight (runtimes are < 24 h).
        day = dt.timedelta(days=1)
        others = await repo.screenings_between(
            self.session, theater.id, show_date - day, show_date + day
        )
        start = dt.datetime.combine(show_date, show_time)
        clash = overlapping(start, movie.duration_minutes, [o for o in others if o.id != moving])
        if clash is not None:
            raise ShowtimeOverlaps(
                f"Theater '{theater.name}' already has a showtime on {clash.show_date} at "
                f"{clash.show_time:%H:%M} that overlaps this one",
                extra={"conflicting_showtime_id": str(clash.id)},
            )
        return start_instant

    async def _movie(self, movie_id: uuid.UUID) -> Movie:
        movie = await repo.get_movie(self.session, movie_id)
        if movie is None:
            raise MovieNotFound()
        return movie

    async def _theater(self, theater_id: uuid.UUID) -> Theater:
        theater = await repo.get_theater(self.session, theater_id)
        if theater is None:
            raise TheaterNotFound()
        return theater
