"""The outbox relay: publishes a service's committed events, marks them only after the
broker confirmed them, and keeps going through broker outages. Several relays may run on one
PostgreSQL database (rows are claimed with FOR UPDATE SKIP LOCKED)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from typing import Any

import structlog
from sqlalchemy import and_, delete, exists, func, select, update
from sqlalchemy.orm import aliased

from boxoffice.core.db import Database, utcnow
from boxoffice.core.events.bus import BusClosed, EventBus, describe_error
from boxoffice.core.events.envelope import Event
from boxoffice.core.events.outbox import NOTIFY_CHANNEL, add_waker, remove_waker
from boxoffice.core.events.tables import InboxEvent, OutboxEvent
from boxoffice.core.observability import EVENTS_PUBLISHED, OUTBOX_LAG

log = structlog.get_logger("boxoffice.events")

PRUNE_EVERY_SECONDS = 600.0


class Relay:
    """Moves one service's outbox to the bus."""

    def __init__(
        self,
        service: str,
        db: Database,
        bus: EventBus,
        *,
        batch_size: int = 100,
        poll_seconds: float = 2.0,
        retention: dt.timedelta = dt.timedelta(days=7),
        max_backoff: float = 30.0,
    ) -> None:
        self.service = service
        self.db = db
        self.bus = bus
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.retention = retention
        self.max_backoff = max_backoff
        self._wake = asyncio.Event()
        self._listener: Any = None

    def _claim_query(self) -> Any:
        earlier = aliased(OutboxEvent)
        # Only the head of each aggregate's queue: its next row waits until this one is
        # published, so one aggregate's events go out in order even with several relays.
        has_earlier = exists().where(
            and_(
                earlier.published_at.is_(None),
                earlier.aggregate_id == OutboxEvent.aggregate_id,
                earlier.position < OutboxEvent.position,
            )
        )
        return (
            select(OutboxEvent)
            .where(OutboxEvent.published_at.is_(None), ~has_earlier)
            .order_by(OutboxEvent.position)
            .limit(self.batch_size)
            .with_for_update(skip_locked=True, of=OutboxEvent)
        )

    async def publish_pending(self) -> int:
        """Publish one batch; rows are marked published only after the broker confirmed."""
        async with self.db.sessionmaker() as session, session.begin():
            rows = list((await session.scalars(self._claim_query())).all())
            if not rows:
                return 0
            events = [
                Event(
                    id=row.id,
                    name=row.name,
                    source=row.source or self.service,
                    occurred_at=row.occurred_at,
                    correlation_id=row.correlation_id,
                    payload=row.payload,
                    aggregate_id=row.aggregate_id,
                )
                for row in rows
            ]
            await self.bus.publish(events)
            await session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.position.in_([row.position for row in rows]))
                .values(published_at=utcnow())
            )
        for event in events:
            EVENTS_PUBLISHED.labels(self.service, event.name).inc()
        return len(rows)

    async def drain(self) -> int:
        """Publish until nothing is pending; how many were published."""
        total = 0
        while (count := await self.publish_pending()) > 0:
            total += count
        return total

    async def lag_seconds(self) -> float:
        """Age of the oldest unpublished event (0 when the outbox is drained)."""
        async with self.db.sessionmaker() as session:
            oldest = await session.scalar(
                select(func.min(OutboxEvent.occurred_at)).where(OutboxEvent.published_at.is_(None))
            )
        if oldest is None:
            return 0.0
        return max((utcnow() - oldest).total_seconds(), 0.0)

    async def prune(self) -> int:
        """Delete published outbox rows and inbox rows older than the retention period."""
        cutoff = utcnow() - self.retention
        async with self.db.sessionmaker() as session, session.begin():
            published = await session.execute(
                delete(OutboxEvent).where(
                    OutboxEvent.published_at.is_not(None), OutboxEvent.published_at < cutoff
                )
            )
            handled = await session.execute(
                delete(InboxEvent).where(InboxEvent.processed_at < cutoff)
            )
        return int(published.rowcount or 0) + int(handled.rowcount or 0)  # type: ignore[attr-defined]

    async def _report_lag(self) -> None:
        with contextlib.suppress(Exception):
            OUTBOX_LAG.labels(self.service).set(await self.lag_seconds())

    async def run(self) -> None:
        """Publish forever: on every commit (woken), on NOTIFY, and on a slow poll."""
        engine = self.db.engine.sync_engine
        add_waker(engine, self._wake)
        backoff = 0.2
        next_prune = 0.0
        try:
            while True:
                self._wake.clear()
                await self._ensure_listener()
                try:
                    await self.drain()
                    backoff = 0.2
                except asyncio.CancelledError:
                    raise
                except BusClosed:
                    return
                except Exception as exc:
                    log.warning(
                        "relay_publish_failed",
                        service=self.service,
                        error=describe_error(exc),
                        retry_in=backoff,
                    )
                    await self._report_lag()
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, self.max_backoff)
                    continue
                if time.monotonic() >= next_prune:
                    try:
                        await self.prune()
                    except Exception as exc:
                        log.warning("outbox_prune_failed", service=self.service, error=repr(exc))
                    next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
                await self._report_lag()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
        finally:
            remove_waker(engine, self._wake)
            await self._close_listener()

    async def _ensure_listener(self) -> None:
        """LISTEN on PostgreSQL so commits in other processes wake this relay too."""
        if self.db.is_sqlite:
            return
        if self._listener is not None:
            if not self._listener[1].is_closed():
                return
            await self._close_listener()
        try:
            conn = await self.db.engine.connect()
        except Exception as exc:
            # The poll still finds the rows; only promptness across processes is lost.
            log.warning("relay_listen_failed", service=self.service, error=repr(exc))
            return
        try:
            raw = (await conn.get_raw_connection()).driver_connection
            assert raw is not None
            await raw.add_listener(NOTIFY_CHANNEL, self._on_notify)
        except BaseException as exc:
            with contextlib.suppress(Exception):
                await conn.close()
            if not isinstance(exc, Exception):
                raise
            log.warning("relay_listen_failed", service=self.service, error=repr(exc))
            return
        self._listener = (conn, raw)

    def _on_notify(self, *_: Any) -> None:
        self._wake.set()

    async def _close_listener(self) -> None:
        if self._listener is None:
            return
        conn, raw = self._listener
        self._listener = None
        with contextlib.suppress(Exception):
            if not raw.is_closed():
                await raw.remove_listener(NOTIFY_CHANNEL, self._on_notify)
        with contextlib.suppress(Exception):
            await conn.close()
