"""Handling one delivery: the handler and an inbox row in one transaction, retried with
backoff a bounded number of times. Both buses call this, so their semantics are the same.
First deliveries are handled in batches when several arrive together (batches.py)."""

from __future__ import annotations

import asyncio
import weakref
from typing import TYPE_CHECKING

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.events.batches import Batcher, claim_in_inbox
from boxoffice.core.events.bus import Outcome, describe_error, retry_delay
from boxoffice.core.events.envelope import Event
from boxoffice.core.events.handlers import EventHandlers
from boxoffice.core.observability import (
    EVENTS_CONSUMED,
    EVENTS_DEAD_LETTERED,
    EVENTS_DUPLICATES,
    EVENTS_RETRIED,
    bind_correlation_id,
)

if TYPE_CHECKING:
    from boxoffice.core.app import ServiceContext

log = structlog.get_logger("boxoffice.events")

DATABASE_PING_SECONDS = 5.0


class _Duplicate(Exception):
    """The inbox already holds this event: it was handled before."""


class EventProcessor:
    """Runs a service's handlers for deliveries, at most once in effect per event id."""

    def __init__(
        self,
        handlers: EventHandlers,
        ctx: ServiceContext,
        *,
        max_attempts: int,
        retry_base: float,
        retry_max: float,
    ) -> None:
        self.handlers = handlers
        self.ctx = ctx
        self.service = ctx.name
        self.max_attempts = max_attempts
        self.retry_base = retry_base
        self.retry_max = retry_max
        # One aggregate's events are handled one at a time, in delivery order (asyncio locks
        # are fair), also while one of them waits to be retried.
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        # Deliveries in hand may outnumber the database connections of this process; more
        # handlers at once than half the pool would only queue for connections that requests
        # are waiting for too.
        concurrency = max(1, ctx.settings.db_pool_size // 2)
        self._slots = asyncio.Semaphore(concurrency)
        self._batches = Batcher(ctx, self._run_handler, concurrency=concurrency)

    def _lock(self, key: str) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[key] = lock
        return lock

    async def handle(self, event: Event, earlier_deliveries: int) -> Outcome:
        """Handle a delivery; retries in place, and reports `dead` once attempts run out."""
        if event.aggregate_id is None:
            return await self._handle(event, earlier_deliveries)
        lock = self._lock(event.aggregate_id)
        async with lock:
            return await self._handle(event, earlier_deliveries)

    async def _handle(self, event: Event, earlier_deliveries: int) -> Outcome:
        # A first delivery joins a batch (batches.py); a redelivery, or an event whose batch
        # failed, is handled on its own.
        if earlier_deliveries == 0:
            outcome = await self._batches.submit(event)
            if isinstance(outcome, Outcome):
                metric = EVENTS_CONSUMED if outcome.status == "processed" else EVENTS_DUPLICATES
                metric.labels(self.service, event.name).inc()
                return outcome
            # The batch failed: because of this event's handler (its first attempt is used
            # up), or of another's (this one was not really tried).
            return await self._attempts(event, earlier_deliveries, failed=outcome)
        return await self._attempts(event, earlier_deliveries)

    async def _run_handler(self, event: Event, session: AsyncSession) -> None:
        handler = self.handlers.get(event.name)
        if handler is not None:
            await handler(event, session, self.ctx)

    async def _attempts(
        self, event: Event, earlier_deliveries: int, failed: Exception | None = None
    ) -> Outcome:
        """Attempts until handled or given up; `failed`: the first attempt was made (in a
        batch) and raised this."""
        # Deliveries that never finished (a crash mid-handling) count as attempts used up.
        attempt = max(earlier_deliveries, 0)
        outage = 0
        while True:
            attempt += 1
            try:
                if failed is not None:
                    first, failed = failed, None
                    raise first
                with bind_correlation_id(event.correlation_id):
                    async with self._slots:
                        await self._once(event)
            except _Duplicate:
                EVENTS_DUPLICATES.labels(self.service, event.name).inc()
                return Outcome("duplicate", attempt)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                error = describe_error(exc)
                if not await self._database_reachable():
                    # Our own database is down: not the event's fault, so no attempt is used
                    # up; the event waits (in hand, unacked) until the database is back.
                    attempt -= 1
                    outage += 1
                    delay = retry_delay(outage, self.retry_base, self.retry_max)
                    log.warning(
                        "event_consumer_database_down",
                        service=self.service,
                        event_id=str(event.id),
                        retry_in=delay,
                        error=error,
                    )
                    await asyncio.sleep(delay)
                    continue
                outage = 0
                if attempt >= self.max_attempts:
                    EVENTS_DEAD_LETTERED.labels(self.service, event.name).inc()
                    log.error(
                        "event_dead_lettered",
                        service=self.service,
                        event_name=event.name,
                        event_id=str(event.id),
                        attempts=attempt,
                        error=error,
                    )
                    return Outcome("dead", attempt, error)
                delay = retry_delay(attempt, self.retry_base, self.retry_max)
                EVENTS_RETRIED.labels(self.service, event.name).inc()
                log.warning(
                    "event_handler_failed",
                    service=self.service,
                    event_name=event.name,
                    event_id=str(event.id),
                    attempt=attempt,
                    retry_in=delay,
                    error=error,
                )
                await asyncio.sleep(delay)
            else:
                EVENTS_CONSUMED.labels(self.service, event.name).inc()
                return Outcome("processed", attempt)

    async def _database_reachable(self) -> bool:
        try:
            await asyncio.wait_for(self.ctx.db.ping(), DATABASE_PING_SECONDS)
        except asyncio.CancelledError:
            raise
        except Exception:
            return False
        return True

    async def _once(self, event: Event) -> None:
        """The inbox row and the handler's work, committed together or not at all."""
        async with self.ctx.db.transaction() as session:
            # The insert claims the event: a delivery seen before (or committing beside this
            # one) inserts nothing, and the second waits on the first's row lock.
            if not await claim_in_inbox(session, [event]):
                raise _Duplicate
            await self._run_handler(event, session)
