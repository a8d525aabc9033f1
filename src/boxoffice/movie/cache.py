"""The catalog cache: JSON answers of catalog reads, under versioned namespaces.

Every key carries its namespace's current version; a write bumps the version (after its
transaction commits), so the next read misses and sees the change at once, while the old
entries simply age out (the TTL is only a backstop). A cache that is down never fails a read:
it is skipped for a while (so reads do not each wait for it) and the database answers.
"""

from __future__ import annotations

import math
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.db import after_commit
from boxoffice.core.kv import Cache
from boxoffice.core.observability import CACHE_HITS, CACHE_MISSES

log = structlog.get_logger("boxoffice.movie.cache")

# Movies; theaters with their seats; showtimes (which also show movie titles and theater names).
Namespace = Literal["movies", "theaters", "showtimes"]
TTL_SECONDS = 60
SKIP_AFTER_FAILURE_SECONDS = 10.0
SERVICE = "movie"

# When each cache (the runtime's adapter) may be tried again after failing; shared by the
# per-request CatalogCache objects.
_skipped_until: weakref.WeakKeyDictionary[Cache, float] = weakref.WeakKeyDictionary()


@dataclass(frozen=True, slots=True)
class ShortLived:
    """A loaded answer that goes stale after `seconds` without any write: a listing of
    showtimes that are not yet running stops being true when the first of them starts."""

    value: str
    seconds: float


class CatalogCache:
    """Read-through cache of serialized catalog answers."""

    def __init__(self, cache: Cache, ttl_seconds: int = TTL_SECONDS) -> None:
        self._cache = cache
        self._ttl = ttl_seconds

    @staticmethod
    def _version_key(namespace: Namespace) -> str:
        return f"movie:{namespace}:version"

    def _skipped(self) -> bool:
        return _skipped_until.get(self._cache, 0.0) > time.monotonic()

    def _failed(self, exc: Exception) -> None:
        log.warning("cache_unavailable", error=repr(exc), skip_seconds=SKIP_AFTER_FAILURE_SECONDS)
        _skipped_until[self._cache] = time.monotonic() + SKIP_AFTER_FAILURE_SECONDS

    async def read(
        self,
        namespace: Namespace,
        kind: str,
        key: str,
        load: Callable[[], Awaitable[str | ShortLived]],
    ) -> str:
        """The cached JSON for (kind, key), or `load()`'s answer, stored for the next reader
        (for at most the TTL, or as long as a ShortLived answer stays true)."""
        if self._skipped():
            CACHE_MISSES.labels(SERVICE, kind).inc()
            return _value(await load())
        try:
            version = await self._cache.get(self._version_key(namespace)) or "0"
            entry = f"movie:{namespace}:v{version}:{kind}:{key}"
            cached = await self._cache.get(entry)
        except Exception as exc:
            self._failed(exc)
            CACHE_MISSES.labels(SERVICE, kind).inc()
            return _value(await load())
        if cached is not None:
            CACHE_HITS.labels(SERVICE, kind).inc()
            return cached
        CACHE_MISSES.labels(SERVICE, kind).inc()
        loaded = await load()
        value, ttl = _value(loaded), self._ttl
        if isinstance(loaded, ShortLived):
            # Rounded down: an entry never outlives the answer's truth by part of a second.
            ttl = min(ttl, math.floor(loaded.seconds))
        if ttl < 1:
            return value
        try:
            await self._cache.set(entry, value, ttl)
        except Exception as exc:
            self._failed(exc)
        return value

    async def invalidate(self, *namespaces: Namespace) -> None:
        """Move the namespaces to a new version: every entry cached before is unreachable."""
        # Tried even while reads skip the cache: writes are rare, and a version bump that
        # lands spares readers the old entries once the cache is back.
        for namespace in namespaces:
            try:
                await self._cache.incr(self._version_key(namespace))
            except Exception as exc:
                # Nothing can be cached while the cache is down; what it held before ages out
                # within the TTL.
                log.warning("cache_invalidation_failed", namespace=namespace, error=repr(exc))


def _value(loaded: str | ShortLived) -> str:
    return loaded.value if isinstance(loaded, ShortLived) else loaded


class PendingInvalidations:
    """Namespaces a unit of work (a request, an event's handling) changed; invalidated once
    its transaction has committed, never before (a concurrent reader would otherwise load
    the old rows into the new cache version), and not at all if it rolls back."""

    def __init__(self, catalog: CatalogCache, session: AsyncSession) -> None:
        self.catalog = catalog
        self.session = session
        self._namespaces: set[Namespace] = set()

    def add(self, *namespaces: Namespace) -> None:
        self._namespaces.update(namespaces)
        # Registered with each change (a savepoint rolled back takes its own registration
        # along); the first flush after the commit invalidates them all, the others find
        # nothing left.
        after_commit(self.session, self.flush)

    async def flush(self) -> None:
        if self._namespaces:
            namespaces = sorted(self._namespaces)
            self._namespaces.clear()
            await self.catalog.invalidate(*namespaces)
