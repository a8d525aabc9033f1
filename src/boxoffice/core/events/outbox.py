"""`record_event`: an outbox row in the caller's transaction, and a prompt wake-up after commit.

Nothing leaves before commit: the row is just another insert of the caller's unit of work. When
the transaction commits, the relay of this process is woken at once (relay.py says why not the
others).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
import weakref
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from boxoffice.core.db import utcnow
from boxoffice.core.events.envelope import check_event_name, to_json_payload
from boxoffice.core.events.tables import OutboxEvent
from boxoffice.core.observability import current_correlation_id

_PENDING = "boxoffice.events.pending"
SERVICE_INFO_KEY = "boxoffice.service"

# Which service owns an engine (set by the events wiring at start), so producers need not say.
_services: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()
# Relays waiting for new rows in an engine's database.
_wakers: weakref.WeakKeyDictionary[Engine, set[asyncio.Event]] = weakref.WeakKeyDictionary()


def register_service_engine(engine: Engine, service: str) -> None:
    _services[engine] = service


def unregister_service_engine(engine: Engine) -> None:
    _services.pop(engine, None)


def add_waker(engine: Engine, waker: asyncio.Event) -> None:
    _wakers.setdefault(engine, set()).add(waker)


def remove_waker(engine: Engine, waker: asyncio.Event) -> None:
    _wakers.get(engine, set()).discard(waker)


def _engine_of(session: Session) -> Engine | None:
    bind = session.bind
    if bind is None:
        return None
    return bind if isinstance(bind, Engine) else bind.engine


def record_event(
    session: AsyncSession | Session,
    name: str,
    payload: dict[str, Any],
    *,
    aggregate_id: str | uuid.UUID | None = None,
    source: str | None = None,
) -> uuid.UUID:
    """Add an event to the outbox in the caller's transaction; it is published after commit.

    `aggregate_id` (e.g. the booking id) keeps that aggregate's events in order. The producing
    service is known from the session's database (the events wiring registers it at start).
    """
    check_event_name(name)
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    engine = _engine_of(sync)
    row = OutboxEvent(
        id=uuid.uuid4(),
        name=name,
        source=source or sync.info.get(SERVICE_INFO_KEY) or _services.get(engine),  # type: ignore[arg-type]
        aggregate_id=None if aggregate_id is None else str(aggregate_id),
        occurred_at=utcnow(),
        correlation_id=current_correlation_id(),
        payload=to_json_payload(payload),
    )
    sync.add(row)
    sync.info[_PENDING] = True
    return row.id


@event.listens_for(Session, "after_commit")
def _wake_relays(session: Session) -> None:
    if not session.info.pop(_PENDING, False):
        return
    engine = _engine_of(session)
    if engine is None:
        return
    for waker in list(_wakers.get(engine, ())):
        # A waker of a loop that has gone away is harmless to skip.
        with contextlib.suppress(RuntimeError):
            waker.set()


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_PENDING, None)
