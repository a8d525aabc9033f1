"""The small interface both buses implement: RabbitMQ (distributed) and the local broker
(embedded). One contract test suite runs against both (tests/core/events)."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from boxoffice.core.events.envelope import Event


class BusClosed(RuntimeError):
    """The bus was closed (the process is shutting down); loops using it stop."""


@dataclass(frozen=True)
class Outcome:
    """How handling a delivery ended: done (or already done before), or given up on."""

    status: Literal["processed", "duplicate", "dead"]
    attempts: int
    error: str | None = None


# What a bus calls per delivery: the event and how many earlier deliveries did not finish.
Handle = Callable[[Event, int], Awaitable[Outcome]]
# What a bus calls for a broadcast event (`EventBus.broadcast`).
Notice = Callable[[Event], Awaitable[None]]


@dataclass(frozen=True)
class DeadLetter:
    """An event a service's consumer gave up on, kept until someone replays it."""

    service: str
    event_id: uuid.UUID | None
    name: str
    source: str
    occurred_at: dt.datetime | None
    attempts: int
    error: str
    dead_at: dt.datetime | None
    correlation_id: str | None = None
    payload: dict[str, Any] | None = None


class EventBus(Protocol):
    """Publish with confirmation; a durable queue per service; dead letters kept and replayable."""

    @property
    def closed(self) -> bool:
        """True once `aclose` was called; every further use raises `BusClosed`."""

    async def declare(self, service: str, names: Collection[str]) -> None:
        """Create the service's queue (and dead-letter queue) bound to the event names."""

    async def publish(self, events: Sequence[Event]) -> None:
        """Return once the broker has safely taken every event; raise if it did not."""

    async def consume(self, service: str, names: Collection[str], handle: Handle) -> None:
        """Deliver the service's queue to `handle` until cancelled (or the connection is lost)."""

    async def broadcast(
        self, names: Collection[str], notice: Notice, ready: asyncio.Event | None = None
    ) -> None:
        """Hand every event of these names to `notice` in this process, until cancelled (or the
        connection is lost): every process hears each one, unlike a service's queue, which
        gives each event to one of them. For what each process keeps for itself (caches): at
        most once, never retried, and nothing is kept for a process that is not listening.
        `ready` is set once events are flowing."""

    async def ping(self) -> None:
        """Return once the broker answered a round trip; raise if it cannot (readiness)."""

    async def dead_letters(self, service: str | None = None, limit: int = 500) -> list[DeadLetter]:
        """The dead letters of one service (or all), oldest first, left in place."""

    async def replay(self, event_id: uuid.UUID, service: str | None = None) -> int:
        """Put the dead letters of that event back on their service's queue; how many."""

    async def aclose(self) -> None: ...


# The longest wait between two attempts to reach the broker again. Short on purpose: retrying a
# connection costs nearly nothing, and events must flow within seconds of the broker's return
# (a back-off doubling to 30 s held them up to half a minute after a restart).
RECONNECT_MAX_SECONDS = 2.0


def retry_delay(attempt: int, base: float, ceiling: float) -> float:
    """Exponential backoff after the `attempt`-th failure: base, 2·base, 4·base… up to ceiling."""
    return float(min(base * 2 ** max(attempt - 1, 0), ceiling))


def describe_error(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 1000 else text[:997] + "..."
