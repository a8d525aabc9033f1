"""Typed event payloads: what a service publishes (`events.py`) and what it reads of others'
(`consumers.py`).

A producer declares each event it publishes as an `EventPayload` with its name, and records it
with an `EventRecorder` in the transaction that makes the change:

    class BookingCancelled(EventPayload):
        event_name: ClassVar[str] = "booking.cancelled"
        booking_id: uuid.UUID
        refund_required: bool

    events.record(BookingCancelled(booking_id=b.id, refund_required=True), aggregate_id=b.id)

A consumer reads another service's event with its own `EventReader`: only the fields it needs,
unknown ones ignored (a tolerant reader), so a producer may add fields without breaking anyone:

    class CancelledBooking(EventReader):
        booking_id: uuid.UUID
        refund_required: bool = False

    cancelled = event.read(CancelledBooking)   # MalformedEvent when a needed field is missing
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.events.envelope import Event, MalformedEvent, to_json_payload
from boxoffice.core.events.outbox import record_event


class EventPayload(BaseModel):
    """An event this service publishes: its name and its fields, checked when it is made."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_name: ClassVar[str]

    def to_payload(self) -> dict[str, Any]:
        """The JSON object that goes on the wire: ids, amounts and times as strings, written as
        every producer writes them (core.events.envelope.to_json_payload)."""
        return to_json_payload(self.model_dump())


class EventReader(BaseModel):
    """What a consumer reads of another service's event: unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)


ReaderT = TypeVar("ReaderT", bound=EventReader)


def read_event(event: Event, reader: type[ReaderT]) -> ReaderT:
    """The event's payload as `reader`; a payload that lacks what the reader needs is malformed
    (the handler fails, is retried and then dead-lettered, never silently half-applied)."""
    try:
        return reader.model_validate(event.payload)
    except ValidationError as exc:
        raise MalformedEvent(f"{event.name} {event.id}: {exc}") from exc


class EventRecorder:
    """The one way a service records an event: into its outbox, in the caller's transaction,
    published by the relay only after that transaction commits (nothing if it rolls back)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def record(
        self, payload: EventPayload, *, aggregate_id: str | uuid.UUID | None = None
    ) -> uuid.UUID:
        """Record `payload`; `aggregate_id` keeps one aggregate's events in order."""
        return record_event(
            self.session, payload.event_name, payload.to_payload(), aggregate_id=aggregate_id
        )
