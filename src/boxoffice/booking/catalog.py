"""What booking reads from the movie service (showtimes and seat layouts), cached.

Calls go through the runtime's ServiceClient (timeout, retries with backoff, circuit breaker);
a movie service that is down or answers nonsense becomes a 503, never a 500. Answers are
cached (the catalog changes rarely) and concurrent misses of one key share a single call, so a
rush of buyers for a new showtime sends one request to the movie service, not hundreds.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal

import structlog
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from boxoffice.booking.errors import ShowtimeNotFound
from boxoffice.core.errors import ServiceUnavailable
from boxoffice.core.kv import Cache
from boxoffice.core.observability import CACHE_HITS, CACHE_MISSES
from boxoffice.core.runtime import Runtime

log = structlog.get_logger("boxoffice.booking.catalog")

SHOWTIME_TTL_SECONDS = 30
SEATS_TTL_SECONDS = 300


class ShowtimeInfo(BaseModel):
    """A showtime as the movie service describes it (the fields booking reads)."""

    model_config = ConfigDict(extra="ignore")

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


class MovieCatalog:
    """Booking's read-through view of the movie service."""

    def __init__(self, runtime: Runtime, caller: str = "booking") -> None:
        self._runtime = runtime
        self._caller = caller
        self._inflight: dict[str, asyncio.Future[str | None]] = {}

    @property
    def _cache(self) -> Cache:
        return self._runtime.cache

    async def showtime(self, showtime_id: uuid.UUID) -> ShowtimeInfo:
        """The showtime, or ShowtimeNotFound (404); ServiceUnavailable when movie is down."""
        raw = await self._cached(
            f"booking:showtime:{showtime_id}",
            SHOWTIME_TTL_SECONDS,
            lambda: self._fetch(f"/showtimes/{showtime_id}"),
            "showtime",
        )
        if raw is None:
            raise ShowtimeNotFound(f"Showtime {showtime_id} not found")
        try:
            return ShowtimeInfo.model_validate_json(raw)
        except ValidationError as exc:
            raise self._nonsense("showtime", exc)

    async def seats(self, theater_id: uuid.UUID) -> list[SeatInfo]:
        """The theater's seats (empty when the movie service knows no such theater)."""
        raw = await self._cached(
            f"booking:seats:{theater_id}",
            SEATS_TTL_SECONDS,
            lambda: self._fetch(f"/seats/{theater_id}"),
            "seats",
        )
        if raw is None:
            return []
        try:
            return _SEATS.validate_json(raw)
        except ValidationError as exc:
            raise self._nonsense("seats", exc)

    def _nonsense(self, what: str, exc: ValidationError) -> ServiceUnavailable:
        log.error("movie_answer_unreadable", what=what, error=str(exc)[:500])
        return ServiceUnavailable(f"movie service sent an unreadable {what}")

    async def _fetch(self, path: str) -> str | None:
        """GET from the movie service: the body, or None for a 404."""
        response = await self._runtime.client(self._caller, "movie").get(path)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            log.error("movie_unexpected_status", path=path, status=response.status_code)
            raise ServiceUnavailable(f"movie service answered {response.status_code}")
        return response.text

    async def _cached(
        self,
        key: str,
        ttl: int,
        fetch: Callable[[], Awaitable[str | None]],
        label: str,
    ) -> str | None:
        try:
            hit = await self._cache.get(key)
        except Exception as exc:  # a cache outage only costs a call to the movie service
            log.warning("cache_unavailable", key=key, error=repr(exc))
            hit = None
        if hit is not None:
            CACHE_HITS.labels("booking", label).inc()
            return hit
        CACHE_MISSES.labels("booking", label).inc()
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            value = await fetch()
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            # Waiters re-raise it; mark it retrieved so an unawaited future logs nothing.
            future.exception()
            raise
        else:
            future.set_result(value)
        finally:
            self._inflight.pop(key, None)
        if value is not None:
            try:
                await self._cache.set(key, value, ttl)
            except Exception as exc:
                log.warning("cache_unavailable", key=key, error=repr(exc))
        return value
