"""What a process shares between its services: settings and the adapters behind small interfaces.

Embedded mode builds one Runtime with in-process adapters for all five services (so a logout in
auth is seen by booking); distributed mode builds one per service process, on Redis.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import httpx
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from boxoffice.core.events.bus import EventBus
from boxoffice.core.events.local import LocalBus
from boxoffice.core.events.rabbitmq import RabbitBus
from boxoffice.core.http import ServiceClient
from boxoffice.core.kv import (
    Cache,
    FileRevocationStore,
    MemoryCache,
    RedisCache,
    RedisRevocationStore,
    RevocationStore,
)
from boxoffice.core.lockout import Lockout, LockoutPolicy, MemoryLockout, RedisLockout
from boxoffice.core.settings import CoreSettings

T = TypeVar("T")


@dataclass(frozen=True)
class AdapterSlot(Generic[T]):
    """A named place in every Runtime for an adapter that a layer above core defines (the seat
    board, say): `build` makes it from the runtime on first use, in-process or on the runtime's
    Redis, so one runtime shares one such adapter among its services."""

    name: str
    build: Callable[[Runtime], T]


@dataclass
class Runtime:
    """CoreSettings plus adapters; `adapters` holds those of the layers above core (see
    `AdapterSlot`), `extras` anything else a runtime brings its services."""

    settings: CoreSettings
    cache: Cache
    revocations: RevocationStore
    redis: Redis | None = None
    # Embedded mode reaches the other services in-process through their ASGI apps.
    transports: dict[str, httpx.AsyncBaseTransport] = field(default_factory=dict)
    clients: dict[tuple[str, str], ServiceClient] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
    # The adapters of AdapterSlots, by slot name: built on first use, closed with the runtime.
    adapters: dict[str, Any] = field(default_factory=dict)
    # The event bus (core/events): in-process broker in embedded mode, RabbitMQ when distributed.
    bus: EventBus | None = None
    # Login attempts per login name (auth): in-process by default, Redis in distributed mode.
    lockout: Lockout | None = None

    def __post_init__(self) -> None:
        if self.lockout is None:
            self.lockout = MemoryLockout(lockout_policy(self.settings))

    @property
    def embedded(self) -> bool:
        return not self.settings.distributed

    def adapter(self, slot: AdapterSlot[T]) -> T:
        """The runtime's adapter for `slot`, built on first use."""
        try:
            return self.adapters[slot.name]  # type: ignore[no-any-return]
        except KeyError:
            built = self.adapters[slot.name] = slot.build(self)
            return built

    def provide(self, slot: AdapterSlot[T], adapter: T) -> None:
        """Put `adapter` in `slot` (a test's stand-in, say), instead of the one `build` makes."""
        self.adapters[slot.name] = adapter

    def client(self, caller: str, target: str) -> ServiceClient:
        """The shared client (with its breaker) from service `caller` to service `target`."""
        key = (caller, target)
        if key not in self.clients:
            s = self.settings
            transport = self.transports.get(target)
            self.clients[key] = ServiceClient(
                caller,
                target,
                f"http://{target}" if transport else s.service_url(target),
                timeout=s.http_timeout_seconds,
                retries=s.http_retries,
                failure_threshold=s.breaker_failure_threshold,
                recovery_timeout=s.breaker_recovery_seconds,
                transport=transport,
            )
        return self.clients[key]

    async def aclose(self) -> None:
        for client in self.clients.values():
            await client.aclose()
        self.clients.clear()
        if self.bus is not None:
            await self.bus.aclose()
        for adapter in (*self.adapters.values(), self.revocations):
            close = getattr(adapter, "aclose", None)
            if close is not None:
                await close()
        if self.redis is not None:
            await self.redis.aclose()


def memory_runtime(settings: CoreSettings) -> Runtime:
    """In-process adapters: embedded mode (one process, one worker); logouts are kept in the
    data dir, as the databases are."""
    return Runtime(
        settings=settings,
        cache=MemoryCache(),
        revocations=file_revocation_store(settings),
        bus=local_bus(settings),
    )


def redis_runtime(settings: CoreSettings) -> Runtime:
    """Redis-backed adapters: distributed mode."""
    # Fail fast: every Redis use here has a fallback (the database decides seats, the cache is
    # skipped, revocation degrades), so a dead Redis must cost milliseconds, not seconds of retries.
    redis = Redis.from_url(
        settings.redis_url,
        socket_timeout=1,
        socket_connect_timeout=0.5,
        retry=Retry(NoBackoff(), 1),
    )
    prefix = redis_prefix(settings)
    return Runtime(
        settings=settings,
        cache=RedisCache(redis, prefix),
        revocations=RedisRevocationStore(redis, prefix),
        redis=redis,
        lockout=RedisLockout(redis, lockout_policy(settings), prefix),
        bus=rabbit_bus(settings),
    )


def file_revocation_store(settings: CoreSettings) -> FileRevocationStore:
    """Embedded mode's revocation list (and not-befores): a SQLite file in the data dir."""
    return FileRevocationStore(settings.data_dir / f"{settings.db_prefix}revocations.sqlite3")


def redis_prefix(settings: CoreSettings) -> str:
    """The prefix of this system's Redis keys (several systems may share one server)."""
    return f"{settings.db_prefix}bo:" if settings.db_prefix else "bo:"


def lockout_policy(settings: CoreSettings) -> LockoutPolicy:
    """The login throttle's numbers, from the settings."""
    return LockoutPolicy(
        max_attempts=settings.login_max_failures,
        window=settings.login_failure_window_seconds,
        lock_seconds=settings.login_lockout_seconds,
        max_lock_seconds=max(settings.login_lockout_seconds, settings.login_lockout_max_seconds),
    )


def build_runtime(settings: CoreSettings) -> Runtime:
    return redis_runtime(settings) if settings.distributed else memory_runtime(settings)


def local_bus(settings: CoreSettings) -> LocalBus:
    """Embedded mode's event broker: a SQLite file in the data dir (opened on first use)."""
    path = settings.data_dir / f"{settings.db_prefix}events_bus.sqlite3"
    return LocalBus(path, prefetch=settings.event_prefetch)


def rabbit_bus(settings: CoreSettings, consumers: Iterable[str] = ()) -> RabbitBus:
    """Distributed mode's event bus: RabbitMQ, names behind the optional BOXOFFICE_DB_PREFIX;
    `consumers`: whose dead letters it reads when not told one (besides those it declares)."""
    return RabbitBus(
        settings.rabbitmq_url,
        prefix=settings.db_prefix,
        prefetch=settings.event_prefetch,
        consumers=consumers,
    )


def event_bus(settings: CoreSettings, consumers: Iterable[str] = ()) -> EventBus:
    """The event bus of the configured mode (e.g. for `boxoffice events`, which names every
    service as `consumers`)."""
    return rabbit_bus(settings, consumers) if settings.distributed else local_bus(settings)
