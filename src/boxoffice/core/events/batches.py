"""Handling many deliveries in one transaction: the fast path of a busy consumer.

A transaction costs a service more than the work of most handlers (connection checkout, BEGIN,
COMMIT, each a round trip through SQLAlchemy and asyncpg). So deliveries that arrive together
are handled together: one transaction, one multi-row insert into the inbox (which also tells
the duplicates), then each handler in delivery order on the same session. Under a light load a
batch is one event and nothing changes; in a rush, a batch holds whatever arrived while the
previous ones ran.

Only the first delivery of an event comes here, and only as an attempt: when anything in a
batch fails, the whole batch rolls back and each of its events is handled on its own, with the
usual retries and dead-lettering (`EventProcessor`), so one bad event never holds up the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.db import utcnow
from boxoffice.core.events.bus import Outcome, describe_error
from boxoffice.core.events.envelope import Event
from boxoffice.core.events.tables import InboxEvent
from boxoffice.core.observability import bind_correlation_id

if TYPE_CHECKING:
    from boxoffice.core.app import ServiceContext

log = structlog.get_logger("boxoffice.events")

BATCH_SIZE = 50

Handle = Callable[[Event, AsyncSession], Awaitable[None]]
# What a batch says of each of its events: its outcome; the error its own handler raised; or
# None when it was not tried (another event's handler failed first).
Result = Outcome | Exception | None


class _HandlerFailed(Exception):
    def __init__(self, event: Event, error: Exception) -> None:
        super().__init__(str(error))
        self.event = event
        self.error = error


def _claim_statement(insert: Callable[[Any], Any]) -> Any:
    table = InboxEvent.__table__
    return (
        insert(table)
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(table.c.event_id)
    )


# Built once, given the rows as parameters: SQLAlchemy sends them as one multi-row INSERT
# ("insertmanyvalues") from its compiled cache. With the rows in the statement's VALUES it was
# never cached, and compiled anew for every batch of every consumer (py-spy in a flash sale:
# 4-6 % of the booking and notification services' CPU, with the booking's own insert).
_CLAIM = {"postgresql": _claim_statement(pg_insert), "sqlite": _claim_statement(sqlite_insert)}


async def claim_in_inbox(session: AsyncSession, events: Sequence[Event]) -> set[object]:
    """Insert the events' inbox rows; the ids inserted now (the others were handled before,
    or are being handled by a delivery committing beside this one)."""
    dialect = "postgresql" if session.get_bind().dialect.name == "postgresql" else "sqlite"
    now = utcnow()
    rows = [
        {"event_id": e.id, "name": e.name, "source": e.source, "processed_at": now} for e in events
    ]
    return set((await session.execute(_CLAIM[dialect], rows)).scalars().all())


class Batcher:
    """Collects deliveries and handles them a batch at a time, a few batches at once."""

    def __init__(
        self, ctx: ServiceContext, handle: Handle, *, concurrency: int, size: int = BATCH_SIZE
    ) -> None:
        self.ctx = ctx
        self.handle = handle
        self.size = size
        self.concurrency = concurrency
        self._waiting: list[tuple[Event, asyncio.Future[Result]]] = []
        self._running: set[asyncio.Task[None]] = set()

    async def submit(self, event: Event) -> Result:
        """The outcome once its batch committed; else the event is to be handled alone."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((event, future))
        self._start_batches()
        return await future

    def _start_batches(self) -> None:
        while self._waiting and len(self._running) < self.concurrency:
            batch, self._waiting = self._waiting[: self.size], self._waiting[self.size :]
            task = asyncio.create_task(self._run(batch), name=f"{self.ctx.name}-event-batch")
            self._running.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._start_batches()

    async def _run(self, batch: list[tuple[Event, asyncio.Future[Result]]]) -> None:
        outcomes: list[Result]
        try:
            outcomes = list(await self._handle_all([event for event, _ in batch]))
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        except Exception as exc:
            culprit = exc.event if isinstance(exc, _HandlerFailed) else None
            log.info(
                "event_batch_failed",
                service=self.ctx.name,
                size=len(batch),
                error=describe_error(exc.error if isinstance(exc, _HandlerFailed) else exc),
            )
            outcomes = [
                exc.error if isinstance(exc, _HandlerFailed) and event is culprit else None
                for event, _ in batch
            ]
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if not future.done():
                future.set_result(outcome)

    async def _handle_all(self, events: list[Event]) -> list[Outcome]:
        async with self.ctx.db.transaction() as session:
            fresh = await claim_in_inbox(session, events)
            outcomes: list[Outcome] = []
            for event in events:
                if event.id not in fresh:
                    outcomes.append(Outcome("duplicate", 1))
                    continue
                fresh.discard(event.id)  # a second copy in this batch is a duplicate
                with bind_correlation_id(event.correlation_id):
                    try:
                        await self.handle(event, session)
                    except Exception as exc:
                        raise _HandlerFailed(event, exc) from exc
                outcomes.append(Outcome("processed", 1))
        return outcomes
