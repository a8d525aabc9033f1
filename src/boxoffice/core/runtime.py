"""What a process shares between its services: settings and the adapters behind small interfaces.

Embedded mode builds one Runtime with in-process adapters for all five services (so a logout in
auth is seen by booking); distributed mode builds one per service process, on Redis.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
from boxoffice.core.seatboard import MemorySeatBoard, RedisSeatBoard, SeatBoard
from boxoffice.core.settings import CoreSettings


@dataclass
class Runtime:
    """CoreSettings plus adapters; `extras` carries adapters that later layers add (bus, holds)."""

    settings: CoreSettings
    cache: Cache
    revocations: RevocationStore
    redis: Redis | None = None
    # Embedded mode reaches the other services in-process through their ASGI apps.
    transports: dict[str, httpx.AsyncBaseTransport] = field(default_factory=dict)
    clients: dict[tuple[str, str], ServiceClient] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
    # The seat board (holds and sales of every showtime; booking writes it, seat maps read
    # it): in-process by default, Redis in distributed mode.
    seats: SeatBoard = field(default_factory=MemorySeatBoard)
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
        for adapter in (self.seats, self.revocations):
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
        seats=RedisSeatBoard(redis, prefix),
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


def rabbit_bus(settings: CoreSettings) -> RabbitBus:
    """Distributed mode's event bus: RabbitMQ, names behind the optional BOXOFFICE_DB_PREFIX."""
    return RabbitBus(
        settings.rabbitmq_url, prefix=settings.db_prefix, prefetch=settings.event_prefetch
    )


def event_bus(settings: CoreSettings) -> EventBus:
    """The event bus of the configured mode (e.g. for `boxoffice events`)."""
    return rabbit_bus(settings) if settings.distributed else local_bus(settings)
