"""The in-process bus of embedded mode: a small broker on a SQLite file in the data dir.

It keeps RabbitMQ's semantics where they matter: bindings and queued messages are durable (a
restart loses nothing), publishing returns once the messages are stored (the "confirm"), a
delivery not settled before a crash is redelivered, and dead letters stay until replayed. The
file also lets `boxoffice events` inspect and replay dead letters from another process.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from boxoffice.core.db import Database, UTCDateTime, new_metadata, utcnow
from boxoffice.core.events.bus import (
    BusClosed,
    DeadLetter,
    Handle,
    Notice,
    Outcome,
    describe_error,
)
from boxoffice.core.events.envelope import Event, MalformedEvent
from boxoffice.core.waits import wait_set

log = structlog.get_logger("boxoffice.events")

broker_metadata = new_metadata()

bindings = sa.Table(
    "bus_bindings",
    broker_metadata,
    sa.Column("queue", sa.String(60), primary_key=True),
    sa.Column("event_name", sa.String(120), primary_key=True),
)

messages = sa.Table(
    "bus_messages",
    broker_metadata,
    sa.Column("position", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("queue", sa.String(60), nullable=False),
    sa.Column("event_id", sa.String(36)),
    sa.Column("event_name", sa.String(120)),
    sa.Column("body", sa.Text, nullable=False),
    # ready → in_flight → (deleted when settled) or dead.
    sa.Column("state", sa.String(10), nullable=False, server_default="ready"),
    sa.Column("delivery_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("attempts", sa.Integer),
    sa.Column("error", sa.Text),
    sa.Column("enqueued_at", UTCDateTime, nullable=False),
    sa.Column("dead_at", UTCDateTime),
    sa.Index("ix_bus_messages_queue_state", "queue", "state", "position"),
)


class LocalBus:
    """Durable in-process queues, one per service, shared by every service of the process."""

    def __init__(self, path: Path | str, *, prefetch: int = 20, poll_seconds: float = 1.0) -> None:
        self.path = Path(path)
        self.prefetch = prefetch
        # How soon a replay made by another process (the CLI) is noticed.
        self.poll_seconds = poll_seconds
        self._db: Database | None = None
        self._opening: asyncio.Lock | None = None
        self._wakers: dict[str, asyncio.Event] = {}
        self._listeners: list[tuple[frozenset[str], Notice]] = []
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def __repr__(self) -> str:
        return f"LocalBus({str(self.path)!r})"

    async def _engine(self) -> AsyncEngine:
        if self._closed:
            raise BusClosed("the in-process bus is closed")
        if self._db is None:
            self._opening = self._opening or asyncio.Lock()
            async with self._opening:
                if self._db is None:
                    db = Database(f"sqlite+aiosqlite:///{self.path.resolve()}")
                    async with db.engine.begin() as conn:
                        await conn.run_sync(broker_metadata.create_all)
                    self._db = db
        return self._db.engine

    def _wake(self, queue: str) -> None:
        waker = self._wakers.get(queue)
        if waker is not None:
            waker.set()

    async def declare(self, service: str, names: Collection[str]) -> None:
        engine = await self._engine()
        async with engine.begin() as conn:
            await conn.execute(sa.delete(bindings).where(bindings.c.queue == service))
            if names:
                await conn.execute(
                    sa.insert(bindings), [{"queue": service, "event_name": n} for n in names]
                )

    async def publish(self, events: Sequence[Event]) -> None:
        if not events:
            return
        engine = await self._engine()
        now = utcnow()
        async with engine.begin() as conn:
            routes = (
                await conn.execute(
                    sa.select(bindings.c.queue, bindings.c.event_name).where(
                        bindings.c.event_name.in_({e.name for e in events})
                    )
                )
            ).all()
            rows = [
                {
                    "queue": queue,
                    "event_id": str(event.id),
                    "event_name": event.name,
                    "body": event.to_json().decode(),
                    "enqueued_at": now,
                }
                for event in events
                for queue, name in routes
                if name == event.name
            ]
            if rows:
                await conn.execute(sa.insert(messages), rows)
        for queue in {row["queue"] for row in rows}:
            self._wake(queue)
        for names, notice in list(self._listeners):
            for event in events:
                if event.name in names:
                    try:
                        await notice(event)
                    except Exception as exc:
                        log.warning("broadcast_notice_failed", error=describe_error(exc))

    async def broadcast(
        self, names: Collection[str], notice: Notice, ready: asyncio.Event | None = None
    ) -> None:
        # One process: the publisher hands each event to the listeners as it is published.
        listener = (frozenset(names), notice)
        self._listeners.append(listener)
        if ready is not None:
            ready.set()
        try:
            await asyncio.Event().wait()
        finally:
            self._listeners.remove(listener)

    async def consume(self, service: str, names: Collection[str], handle: Handle) -> None:
        engine = await self._engine()
        await self.declare(service, names)
        async with engine.begin() as conn:
            # Deliveries left unsettled by a previous run are redelivered, counted as such.
            await conn.execute(
                sa.update(messages)
                .where(messages.c.queue == service, messages.c.state == "in_flight")
                .values(state="ready", delivery_count=messages.c.delivery_count + 1)
            )
        waker = asyncio.Event()
        self._wakers[service] = waker
        running: set[asyncio.Task[None]] = set()
        try:
            while True:
                if self._closed:
                    raise BusClosed("the in-process bus is closed")
                waker.clear()
                free = self.prefetch - len(running)
                if free > 0:
                    for row in await self._claim(engine, service, free):
                        task = asyncio.create_task(self._deliver(engine, row, handle, waker))
                        running.add(task)
                        task.add_done_callback(running.discard)
                await wait_set(waker, self.poll_seconds)
        finally:
            if self._wakers.get(service) is waker:
                del self._wakers[service]
            for task in list(running):
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)

    async def _claim(self, engine: Any, queue: str, limit: int) -> list[Any]:
        async with engine.begin() as conn:
            rows = (
                await conn.execute(
                    sa.select(messages)
                    .where(messages.c.queue == queue, messages.c.state == "ready")
                    .order_by(messages.c.position)
                    .limit(limit)
                )
            ).all()
            if rows:
                await conn.execute(
                    sa.update(messages)
                    .where(messages.c.position.in_([r.position for r in rows]))
                    .values(state="in_flight")
                )
        return list(rows)

    async def _deliver(self, engine: Any, row: Any, handle: Handle, waker: asyncio.Event) -> None:
        try:
            event = Event.from_json(row.body)
        except MalformedEvent as exc:
            outcome = Outcome("dead", 1, str(exc))
        else:
            try:
                outcome = await handle(event, row.delivery_count)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Not the handler (the processor catches that) but the machinery: redeliver.
                log.error("event_delivery_failed", queue=row.queue, error=describe_error(exc))
                await self._settle(
                    engine,
                    row.position,
                    {"state": "ready", "delivery_count": row.delivery_count + 1},
                )
                waker.set()
                return
        if outcome.status == "dead":
            await self._settle(
                engine,
                row.position,
                {
                    "state": "dead",
                    "attempts": outcome.attempts,
                    "error": outcome.error,
                    "dead_at": utcnow(),
                },
            )
        else:
            await self._settle(engine, row.position, None)
        waker.set()

    async def _settle(self, engine: Any, position: int, values: dict[str, Any] | None) -> None:
        """Ack (delete) or update a delivered message; an unsettled one is redelivered later."""
        for attempt in range(5):
            if self._closed:
                return  # left in flight: redelivered at the next start
            try:
                async with engine.begin() as conn:
                    where = messages.c.position == position
                    if values is None:
                        await conn.execute(sa.delete(messages).where(where))
                    else:
                        await conn.execute(sa.update(messages).where(where).values(**values))
                return
            except Exception as exc:
                log.warning("event_settle_failed", error=describe_error(exc), attempt=attempt + 1)
                await asyncio.sleep(0.2 * 2**attempt)

    async def ping(self) -> None:
        engine = await self._engine()
        async with engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))

    async def dead_letters(self, service: str | None = None, limit: int = 500) -> list[DeadLetter]:
        if self._db is None and not self.path.exists():
            return []  # nothing ever ran here: no need to create the broker's file
        engine = await self._engine()
        query = sa.select(messages).where(messages.c.state == "dead")
        if service is not None:
            query = query.where(messages.c.queue == service)
        async with engine.connect() as conn:
            rows = (await conn.execute(query.order_by(messages.c.position).limit(limit))).all()
        return [_dead_letter(row) for row in rows]

    async def replay(self, event_id: uuid.UUID, service: str | None = None) -> int:
        if self._db is None and not self.path.exists():
            return 0
        engine = await self._engine()
        where = [messages.c.state == "dead", messages.c.event_id == str(event_id)]
        if service is not None:
            where.append(messages.c.queue == service)
        async with engine.begin() as conn:
            rows = (await conn.execute(sa.select(messages).where(*where))).all()
            for row in rows:
                # Back at the end of its queue, with a fresh count of attempts.
                await conn.execute(
                    sa.insert(messages).values(
                        queue=row.queue,
                        event_id=row.event_id,
                        event_name=row.event_name,
                        body=row.body,
                        enqueued_at=utcnow(),
                    )
                )
                await conn.execute(sa.delete(messages).where(messages.c.position == row.position))
        for row in rows:
            self._wake(row.queue)
        return len(rows)

    async def aclose(self) -> None:
        self._closed = True
        for waker in self._wakers.values():
            waker.set()
        if self._db is not None:
            await self._db.dispose()
            self._db = None


def _dead_letter(row: Any) -> DeadLetter:
    try:
        event: Event | None = Event.from_json(row.body)
    except MalformedEvent:
        event = None
    return DeadLetter(
        service=row.queue,
        event_id=event.id if event else None,
        name=event.name if event else (row.event_name or "?"),
        source=event.source if event else "?",
        occurred_at=event.occurred_at if event else None,
        attempts=row.attempts or 0,
        error=row.error or "",
        dead_at=row.dead_at,
        correlation_id=event.correlation_id if event else None,
        payload=event.payload if event else None,
    )
