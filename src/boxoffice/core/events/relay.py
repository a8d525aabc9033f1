"""The outbox relay: publishes a service's committed events, marks them only after the
broker confirmed them, and keeps going through broker outages. Several relays may run on one
PostgreSQL database (rows are claimed with FOR UPDATE SKIP LOCKED).

A commit wakes the relay of its own process at once (every service process runs one); a row
written by a process without a relay (an operator's command) waits for the backstop poll. The
commits of a rush are not announced to the other processes (NOTIFY): each would wake every
relay of the database to race for the same rows, one more round trip per commit for nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from typing import Any, NamedTuple

import structlog
from sqlalchemy import and_, bindparam, delete, exists, func, select, update
from sqlalchemy.orm import aliased

from boxoffice.core.db import Database, utcnow
from boxoffice.core.events.bus import (
    RECONNECT_MAX_SECONDS,
    BusClosed,
    EventBus,
    describe_error,
)
from boxoffice.core.events.envelope import Event
from boxoffice.core.events.outbox import add_waker, remove_waker
from boxoffice.core.events.tables import InboxEvent, OutboxEvent
from boxoffice.core.observability import EVENTS_PUBLISHED, OUTBOX_LAG
from boxoffice.core.waits import wait_set

log = structlog.get_logger("boxoffice.events")

PRUNE_EVERY_SECONDS = 600.0
# A relay that finds only rows another relay holds looks again after this, then twice as long
# each time, up to its poll.
BLOCKED_PAUSE_SECONDS = 0.02


class Batch(NamedTuple):
    """What one claim of a relay did: how many events it published; whether more may be
    waiting (a full batch, or later events of a published aggregate); whether it found only
    rows another relay holds."""

    published: int
    more: bool
    blocked: bool


LAG_REPORT_SECONDS = 5.0

# A published batch's rows marked, by position. Built once, as the claim is.
_MARK_PUBLISHED = (
    update(OutboxEvent)
    .where(OutboxEvent.position.in_(bindparam("positions", expanding=True)))
    .values(published_at=bindparam("at", type_=OutboxEvent.published_at.type))
    # The claimed rows in the session are not read again: its transaction ends here.
    .execution_options(synchronize_session=False)
)


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
        max_backoff: float = RECONNECT_MAX_SECONDS,
    ) -> None:
        self.service = service
        self.db = db
        self.bus = bus
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.retention = retention
        self.max_backoff = max_backoff
        self._wake = asyncio.Event()
        self._claim = self._claim_query()  # built once: it is the same every time
        self._pending = select(exists().where(OutboxEvent.published_at.is_(None)))

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
        # Its later rows (held back above) become heads once it is published: the drain
        # goes on for them, and otherwise stops at a short batch instead of asking again.
        later = aliased(OutboxEvent)
        has_later = exists().where(
            and_(
                later.published_at.is_(None),
                later.aggregate_id == OutboxEvent.aggregate_id,
                later.position > OutboxEvent.position,
            )
        )
        return (
            select(OutboxEvent, has_later.label("has_later"))
            .where(OutboxEvent.published_at.is_(None), ~has_earlier)
            .order_by(OutboxEvent.position)
            .limit(self.batch_size)
            .with_for_update(skip_locked=True, of=OutboxEvent)
        )

    async def publish_pending(self) -> Batch:
        """Publish one batch; rows are marked published only after the broker confirmed."""
        async with self.db.sessionmaker() as session, session.begin():
            claimed = (await session.execute(self._claim)).all()
            if not claimed:
                # Nothing this relay may take: is that because another relay holds the rows
                # (or the rows before them) while it publishes?
                pending = await session.scalar(self._pending)
                return Batch(0, more=False, blocked=bool(pending))
            rows = [row for row, _ in claimed]
            more = len(rows) >= self.batch_size or any(has_later for _, has_later in claimed)
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
                _MARK_PUBLISHED, {"positions": [row.position for row in rows], "at": utcnow()}
            )
        for event in events:
            EVENTS_PUBLISHED.labels(self.service, event.name).inc()
        return Batch(len(rows), more=more, blocked=False)

    async def drain(self) -> int:
        """Publish until nothing this relay can take is pending; how many were published.

        A short batch with nothing held back behind it ends the drain: asking once more,
        to find nothing, was a third of a relay's transactions in a rush. Rows committed
        meanwhile by this process wake the relay again; rows another relay holds (or holds
        back: their aggregate's earlier event is in its batch) are asked for again shortly,
        since that relay may not know of them.
        """
        total = 0
        pause = BLOCKED_PAUSE_SECONDS
        while True:
            batch = await self.publish_pending()
            total += batch.published
            if batch.more:
                continue
            if not batch.blocked or pause > self.poll_seconds:
                return total
            await asyncio.sleep(pause)
            pause *= 2

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
        """Publish forever: on every commit of this process (woken), and on a slow poll."""
        engine = self.db.engine.sync_engine
        add_waker(engine, self._wake)
        backoff = 0.2
        next_prune = next_lag_report = 0.0
        try:
            while True:
                self._wake.clear()
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
                now = time.monotonic()
                if now >= next_prune:
                    try:
                        await self.prune()
                    except Exception as exc:
                        log.warning("outbox_prune_failed", service=self.service, error=repr(exc))
                    next_prune = now + PRUNE_EVERY_SECONDS
                if now >= next_lag_report:
                    # Not after every drain: in a rush that is hundreds of queries a second.
                    await self._report_lag()
                    next_lag_report = now + LAG_REPORT_SECONDS
                await wait_set(self._wake, self.poll_seconds)
        finally:
            remove_waker(engine, self._wake)
