"""The movie service's rules: what is listed, how theaters are laid out, when showtimes may
run, and how many seats of a showtime the bookings hold."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import Self

from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.app import ServiceContext
from boxoffice.core.db import utcnow
from boxoffice.core.events import EventRecorder
from boxoffice.core.localtime import local_now, starts_at
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
from boxoffice.movie.events import movie_updated, showtime_updated, theater_updated
from boxoffice.movie.layout import layout_seats
from boxoffice.movie.models import Movie, Showtime, Theater
from boxoffice.movie.repository import (
    MovieRepository,
    Page,
    SeatLedgerRepository,
    ShowtimeRepository,
    ShowtimeRow,
    TheaterRepository,
)
from boxoffice.movie.schedule import overlapping
from boxoffice.movie.schemas import (
    MovieCreate,
    MovieOut,
    MovieUpdate,
    ShowtimeCreate,
    ShowtimeOut,
    ShowtimeUpdate,
    TheaterCreate,
    TheaterOut,
    TheaterUpdate,
)
from boxoffice.movie.settings import MovieSettings

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


def _showtime_out(row: ShowtimeRow) -> ShowtimeOut:
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


class MovieService:
    """The catalog of one request (or one event's handling): reads, admin writes, and the
    seat counts the booking events change.

    The catalog reads (`movies`, `movie`, `theaters`, `theater`, `showtimes`, `showtime`)
    return the route's JSON body as a string, not a schema: it is cached pre-serialized
    (`CatalogCache`), so a cache hit costs neither a query nor a serialization (the
    performance design). The writes return schemas. A write marks the cache namespaces it
    changes (`PendingInvalidations`), dropped once the caller's transaction has committed.
    Nothing here commits.
    """

    def __init__(
        self,
        movies: MovieRepository,
        theaters: TheaterRepository,
        showtimes: ShowtimeRepository,
        ledger: SeatLedgerRepository,
        settings: MovieSettings,
        events: EventRecorder,
        cache: CatalogCache,
        pending: PendingInvalidations,
    ) -> None:
        self.movie_repo = movies
        self.theater_repo = theaters
        self.showtime_repo = showtimes
        self.ledger = ledger
        self.settings = settings
        self.events = events
        self.cache = cache
        self.pending = pending

    @classmethod
    def from_context(cls, ctx: ServiceContext, session: AsyncSession) -> Self:
        cache = CatalogCache(ctx.runtime.cache)
        settings: MovieSettings = ctx.settings
        return cls(
            MovieRepository(session),
            TheaterRepository(session),
            ShowtimeRepository(session),
            SeatLedgerRepository(session),
            settings,
            EventRecorder(session),
            cache,
            PendingInvalidations(cache, session),
        )

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
            found = await self.movie_repo.listing(
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
            return MovieOut.model_validate(await self.find_movie(movie_id)).model_dump_json()

        return await self.cache.read("movies", "movie", str(movie_id), load)

    async def theaters(
        self, *, city: str | None, page: Page, include_inactive: bool = False
    ) -> str:
        async def load() -> str:
            found = await self.theater_repo.listing(
                city=city, page=page, include_inactive=include_inactive
            )
            return _THEATERS.dump_json([TheaterOut.model_validate(t) for t in found]).decode()

        key = _key(city, page.limit, page.offset, include_inactive)
        return await self.cache.read("theaters", "theater_list", key, load)

    async def theater(self, theater_id: uuid.UUID) -> str:
        async def load() -> str:
            return TheaterOut.model_validate(await self.find_theater(theater_id)).model_dump_json()

        return await self.cache.read("theaters", "theater", str(theater_id), load)

    async def showtimes(self, filters: ShowtimeFilters, page: Page) -> str:
        async def load() -> str | ShortLived:
            now = utcnow()
            rows = await self.showtime_repo.listing(
                movie_id=filters.movie_id,
                theater_id=filters.theater_id,
                show_date=filters.show_date,
                city=filters.city,
                starting_after=None if filters.include_started else now,
                page=page,
                include_inactive=filters.include_inactive,
            )
            body = _SHOWTIMES.dump_json([_showtime_out(r) for r in rows]).decode()
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
            row = await self.showtime_repo.row(showtime_id)
            if row is None:
                raise ShowtimeNotFound()
            return _showtime_out(row).model_dump_json()

        return await self.cache.read("showtimes", "showtime", str(showtime_id), load)

    # The rows the writes act on (path-id dependencies use them): the row, or its 404.

    async def find_movie(self, movie_id: uuid.UUID) -> Movie:
        movie = await self.movie_repo.get(movie_id)
        if movie is None:
            raise MovieNotFound()
        return movie

    async def find_theater(self, theater_id: uuid.UUID) -> Theater:
        theater = await self.theater_repo.get(theater_id)
        if theater is None:
            raise TheaterNotFound()
        return theater

    async def find_showtime(self, showtime_id: uuid.UUID) -> Showtime:
        showtime = await self.showtime_repo.get(showtime_id)
        if showtime is None:
            raise ShowtimeNotFound()
        return showtime

    # Writes (admin). The caller's transaction commits; the cache is invalidated after that.

    async def create_movie(self, data: MovieCreate) -> MovieOut:
        movie = await self.movie_repo.add(Movie(**data.model_dump()))
        self.pending.add("movies")
        return MovieOut.model_validate(movie)

    async def update_movie(self, movie: Movie, changes: MovieUpdate) -> MovieOut:
        for name, value in changes.model_dump(exclude_unset=True).items():
            setattr(movie, name, value)
        await self.movie_repo.flush()
        # Showtime listings carry the title and hide the showtimes of inactive movies.
        self.pending.add("movies", "showtimes")
        self.events.record(movie_updated(movie), aggregate_id=movie.id)
        return MovieOut.model_validate(movie)

    async def deactivate_movie(self, movie: Movie) -> None:
        movie.is_active = False
        await self.movie_repo.flush()
        self.pending.add("movies", "showtimes")
        self.events.record(movie_updated(movie), aggregate_id=movie.id)

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
            timezone=data.timezone or self.settings.theater_timezone,
        )
        await self.theater_repo.add(theater)
        await self.theater_repo.add_seats(layout_seats(theater))
        self.pending.add("theaters")
        return TheaterOut.model_validate(theater)

    async def update_theater(self, theater: Theater, changes: TheaterUpdate) -> TheaterOut:
        """Rename, move or (de)activate a theater; its time zone only while it has no
        showtimes (their start instants are read in it)."""
        values = changes.model_dump(exclude_unset=True)
        zone = values.get("timezone")
        if zone is not None and zone != theater.timezone:
            if await self.showtime_repo.any_in(theater.id):
                raise TheaterInUse()
        for name, value in values.items():
            setattr(theater, name, value)
        await self.theater_repo.flush()
        # Showtime listings carry the theater's name and city and leave out inactive theaters.
        self.pending.add("theaters", "showtimes")
        self.events.record(theater_updated(theater), aggregate_id=theater.id)
        return TheaterOut.model_validate(theater)

    async def deactivate_theater(self, theater: Theater) -> None:
        """Take a theater and its showtimes off the listings; kept for its bookings."""
        await self.update_theater(theater, TheaterUpdate(is_active=False))

    async def create_showtime(self, data: ShowtimeCreate) -> ShowtimeOut:
        movie = await self.find_movie(data.movie_id)
        if not movie.is_active:
            raise MovieNotShowing(f"Movie '{movie.title}' is not showing")
        theater = await self.find_theater(data.theater_id)
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
        await self.showtime_repo.add(showtime)
        self.pending.add("showtimes")
        return _showtime_out(
            ShowtimeRow(
                showtime,
                movie.title,
                theater.name,
                theater.city,
                theater.timezone,
                theater.total_seats,
            )
        )

    async def update_showtime(self, showtime: Showtime, changes: ShowtimeUpdate) -> ShowtimeOut:
        """Change a showtime's price (for bookings from now on), seat rules or active flag;
        its date and time only while no seat of it is booked, under a new showtime's rules."""
        values = changes.model_dump(exclude_unset=True)
        day = values.pop("show_date", showtime.show_date)
        clock = values.pop("show_time", showtime.show_time)
        if (day, clock) != (showtime.show_date, showtime.show_time):
            if await self.ledger.booked_seats(showtime.id):
                raise ShowtimeHasBookings()
            movie = await self.find_movie(showtime.movie_id)
            theater = await self.find_theater(showtime.theater_id)
            showtime.starts_at = await self._check_schedule(
                movie, theater, day, clock, moving=showtime.id
            )
            showtime.show_date, showtime.show_time = day, clock
        for name, value in values.items():
            setattr(showtime, name, value)
        await self.showtime_repo.flush()
        self.pending.add("showtimes")
        self.events.record(showtime_updated(showtime), aggregate_id=showtime.id)
        row = await self.showtime_repo.row(showtime.id)
        assert row is not None
        return _showtime_out(row)

    async def deactivate_showtime(self, showtime: Showtime) -> None:
        """Take a showtime off the listings and off sale; its bookings stay as they are."""
        await self.update_showtime(showtime, ShowtimeUpdate(is_active=False))

    # The seat counts: booking events (consumers.py) keep the ledger behind available_seats.

    async def booking_holds_seats(
        self, booking_id: uuid.UUID, showtime_id: uuid.UUID, seats: int
    ) -> None:
        """A booking took `seats` of the showtime (a repeated event changes nothing)."""
        if await self.ledger.record_holds(booking_id, showtime_id, seats):
            self._seat_counts_changed()

    async def booking_released_seats(
        self, booking_id: uuid.UUID, showtime_id: uuid.UUID, seats: int
    ) -> None:
        """A booking gave its seats back (cancelled, expired), also before its creation
        arrived."""
        if await self.ledger.record_release(booking_id, showtime_id, seats):
            self._seat_counts_changed()

    def _seat_counts_changed(self) -> None:
        # Showtime answers carry the free-seat count: drop them once the ledger change has
        # committed (before it, a reader could cache the old count again under the new version).
        self.pending.add("showtimes")

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
        await self.theater_repo.lock_schedule(theater.id)
        # A screening that starts the day before can run past midnight (runtimes are < 24 h).
        day = dt.timedelta(days=1)
        others = await self.showtime_repo.screenings_between(
            theater.id, show_date - day, show_date + day
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
