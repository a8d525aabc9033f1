"""The outbox and inbox tables, on a MetaData of their own that every service includes.

A service's first migration calls `create_event_tables()` (and `drop_event_tables()` on the way
down); its migrations/env.py passes `events_metadata` to `run_env` beside its own metadata.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from boxoffice.core.db import UTCDateTime, new_metadata, utcnow

# An integer that autoincrements on both dialects (SQLite only does so for INTEGER keys).
_Position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class EventsBase(DeclarativeBase):
    """The base of the event tables; its MetaData is `events_metadata`."""

    metadata = new_metadata()


events_metadata = EventsBase.metadata


class OutboxEvent(EventsBase):
    """An event saved beside the state change it announces, waiting for the relay."""

    __tablename__ = "event_outbox"
    __table_args__ = (
        # The relay's two questions: what is unpublished, and is this row its aggregate's head.
        sa.Index("ix_event_outbox_unpublished", "published_at", "position"),
        sa.Index("ix_event_outbox_aggregate", "aggregate_id", "position"),
    )

    # Commit order within an aggregate: the relay publishes an aggregate's rows by position.
    position: Mapped[int] = mapped_column(_Position, primary_key=True, autoincrement=True)
    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    source: Mapped[str | None] = mapped_column(sa.String(60))
    aggregate_id: Mapped[str | None] = mapped_column(sa.String(120))
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    correlation_id: Mapped[str | None] = mapped_column(sa.String(128))
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class InboxEvent(EventsBase):
    """An event this service has handled; its id makes a redelivery a no-op."""

    __tablename__ = "event_inbox"
    __table_args__ = (sa.Index("ix_event_inbox_processed_at", "processed_at"),)

    event_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    source: Mapped[str] = mapped_column(sa.String(60))
    processed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


EVENT_TABLES: tuple[sa.Table, ...] = (
    cast(sa.Table, OutboxEvent.__table__),
    cast(sa.Table, InboxEvent.__table__),
)


def create_event_tables() -> None:
    """Create the outbox and inbox; call from a service's Alembic migration `upgrade()`."""
    from alembic import op

    events_metadata.create_all(op.get_bind(), tables=list(EVENT_TABLES), checkfirst=True)


def drop_event_tables() -> None:
    """Drop the outbox and inbox; call from the matching `downgrade()`."""
    from alembic import op

    events_metadata.drop_all(op.get_bind(), tables=list(EVENT_TABLES), checkfirst=True)
