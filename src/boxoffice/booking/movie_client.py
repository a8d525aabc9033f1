"""`MovieClient`: what booking reads from the movie service (showtimes and seat layouts), kept
parsed in memory.

A showtime's details and a theater's layout are read on every hold and booking, and almost never
change, so each process keeps them as parsed, immutable objects: no JSON is validated per
request. An entry is dropped when the movie service announces a change (`showtime.updated`,
`theater.updated`, `movie.updated`, see `consumers.py`) and lives at most `TTL_SECONDS` anyway.
Concurrent misses of one key share a single call, so a rush of buyers for a new showtime sends
one request to the movie service, not hundreds. Calls go through the runtime's ServiceClient
(timeout, retries with backoff, circuit breaker): a movie service that is down or answers
nonsense becomes a 503, never a 500.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Generic, TypeVar

import structlog
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from boxoffice.booking.errors import SeatsNotInTheater, ShowtimeNotFound
from boxoffice.booking.seat_rules import row_blocks
from boxoffice.core.app import ServiceContext
from boxoffice.core.errors import ServiceUnavailable
from boxoffice.core.localtime import starts_at
from boxoffice.core.observability import CACHE_HITS, CACHE_MISSES
from boxoffice.core.runtime import Runtime

log = structlog.get_logger("boxoffice.booking.movie_client")

TTL_SECONDS = 60.0
MAX_ENTRIES = 2_000


class ShowtimeInfo(BaseModel):
    """A showtime as the movie service describes it (the fields booking reads)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: uuid.UUID
    movie_id: uuid.UUID | None = None
    theater_id: uuid.UUID
    show_date: dt.date
    show_time: dt.time
    price: Decimal
    # Optional VIP price; when the movie service does not send one, every seat costs `price`.
    vip_price: Decimal | None = None
    movie_title: str = ""
    theater_name: str = ""
    city: str | None = None
    enforce_seat_rules: bool = False
    # The theater's zone and the instant the show starts in it (older movie services sent
    # neither: the show is then read in the THEATER_TIMEZONE setting, as all theaters were).
    timezone: str | None = None
    starts_at: dt.datetime | None = None
    # Older movie services sent neither: every showtime was on sale, capacity unknown.
    is_active: bool = True
    total_seats: int | None = None

    def start(self, default_zone: str) -> dt.datetime:
        """When the show starts (UTC)."""
        if self.starts_at is not None:
            if self.starts_at.tzinfo is None:
                return self.starts_at.replace(tzinfo=dt.UTC)
            return self.starts_at.astimezone(dt.UTC)
        return starts_at(self.show_date, self.show_time, self.timezone or default_zone)

    def price_of(self, seat_type: str) -> Decimal:
        if seat_type == "vip" and self.vip_price is not None:
            return self.vip_price
        return self.price


class SeatInfo(BaseModel):
    """A seat of a theater as the movie service describes it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: uuid.UUID
    theater_id: uuid.UUID | None = None
    seat_row: str
    seat_number: int
    seat_type: str = "standard"
    aisle_after: bool = False


_SEATS = TypeAdapter(list[SeatInfo])


@dataclass(frozen=True)
class Layout:
    """A theater's seats, in order, by id (also as text, as the seat board names them), and
    cut into rows and blocks for the seat rules; all worked out once."""

    theater_id: uuid.UUID
    seats: tuple[SeatInfo, ...]
    by_id: dict[uuid.UUID, SeatInfo] = field(repr=False)
    by_key: dict[str, SeatInfo] = field(repr=False)
    blocks: list[list[list[SeatInfo]]] = field(repr=False)

    @classmethod
    def of(cls, theater_id: uuid.UUID, seats: Sequence[SeatInfo]) -> Layout:
        return cls(
            theater_id,
            tuple(seats),
            {s.id: s for s in seats},
            {str(s.id): s for s in seats},
            row_blocks(seats),
        )

    def pick(self, seat_ids: Sequence[uuid.UUID]) -> list[SeatInfo]:
        """The seats with these ids, in that order; SeatsNotInTheater names any stranger."""
        unknown = [str(i) for i in seat_ids if i not in self.by_id]
        if unknown:
            raise SeatsNotInTheater(unknown)
        return [self.by_id[i] for i in seat_ids]


K = TypeVar("K")
V = TypeVar("V")


class _Memo(Generic[K, V]):
    """Parsed values by key for at most `ttl` seconds; concurrent misses share one load."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._values: dict[K, tuple[V, float]] = {}
        self._inflight: dict[K, asyncio.Future[V]] = {}

    def forget(self, match: Callable[[K, V], bool]) -> None:
        for key in [k for k, (v, _) in self._values.items() if match(k, v)]:
            del self._values[key]

    def clear(self) -> None:
        self._values.clear()

    def holds(self, key: K) -> bool:
        entry = self._values.get(key)
        return entry is not None and entry[1] > time.monotonic()

    async def get(self, key: K, load: Callable[[], Awaitable[V]], label: str) -> V:
        entry = self._values.get(key)
        if entry is not None and entry[1] > time.monotonic():
            CACHE_HITS.labels("booking", label).inc()
            return entry[0]
        CACHE_MISSES.labels("booking", label).inc()
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            value = await load()
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                future.cancel()
            else:
                future.set_exception(exc)
                future.exception()  # retrieved: an unawaited future logs nothing
            raise
        finally:
            self._inflight.pop(key, None)
        future.set_result(value)
        if len(self._values) >= MAX_ENTRIES:
            self._values.clear()
        self._values[key] = (value, time.monotonic() + self.ttl)
        return value


class MovieClient:
    """Booking's read-through view of the movie service's catalog, one per process."""

    def __init__(self, runtime: Runtime, caller: str = "booking") -> None:
        self._runtime = runtime
        self._caller = caller
        self._showtimes: _Memo[uuid.UUID, ShowtimeInfo] = _Memo(TTL_SECONDS)
        self._layouts: _Memo[uuid.UUID, Layout] = _Memo(TTL_SECONDS)

    @classmethod
    def of(cls, ctx: ServiceContext) -> MovieClient:
        """The process's client (made on first use): what it keeps is shared by every request."""
        client: MovieClient | None = ctx.state.get("movie_client")
        if client is None:
            client = ctx.state["movie_client"] = cls(ctx.runtime)
        return client

    async def showtime(self, showtime_id: uuid.UUID) -> ShowtimeInfo:
        """The showtime, or ShowtimeNotFound (404); ServiceUnavailable when movie is down."""

        async def load() -> ShowtimeInfo:
            raw = await self._fetch(f"/showtimes/{showtime_id}")
            if raw is None:  # not remembered: an unknown id must not crowd out real ones
                raise ShowtimeNotFound(f"Showtime {showtime_id} not found")
            return self._parse(ShowtimeInfo.model_validate_json, raw)

        return await self._showtimes.get(showtime_id, load, "showtime")

    async def layout(self, theater_id: uuid.UUID) -> Layout:
        """The theater's seats (none when the movie service knows no such theater)."""

        async def load() -> Layout:
            raw = await self._fetch(f"/seats/{theater_id}")
            seats = [] if raw is None else self._parse(_SEATS.validate_json, raw)
            return Layout.of(theater_id, seats)

        return await self._layouts.get(theater_id, load, "seats")

    def remembers(self, showtime_id: uuid.UUID) -> bool:
        """Whether the showtime is kept in memory now."""
        return self._showtimes.holds(showtime_id)

    def forget_showtime(self, showtime_id: uuid.UUID) -> None:
        self._showtimes.forget(lambda key, _: key == showtime_id)

    def forget_movie(self, movie_id: uuid.UUID) -> None:
        """Showtimes carry their movie's title: a changed movie drops them."""
        self._showtimes.forget(lambda _, show: show.movie_id == movie_id)

    def forget_theater(self, theater_id: uuid.UUID) -> None:
        self._layouts.forget(lambda key, _: key == theater_id)
        self._showtimes.forget(lambda _, show: show.theater_id == theater_id)

    def forget_everything(self) -> None:
        self._showtimes.clear()
        self._layouts.clear()

    def _parse(self, parse: Callable[[str], V], raw: str) -> V:
        try:
            return parse(raw)
        except ValidationError as exc:
            log.error("movie_answer_unreadable", error=str(exc)[:500])
            raise ServiceUnavailable("movie service sent an unreadable answer") from exc

    async def _fetch(self, path: str) -> str | None:
        """GET from the movie service: the body, or None for a 404."""
        response = await self._runtime.client(self._caller, "movie").get(path)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            log.error("movie_unexpected_status", path=path, status=response.status_code)
            raise ServiceUnavailable(f"movie service answered {response.status_code}")
        return response.text
