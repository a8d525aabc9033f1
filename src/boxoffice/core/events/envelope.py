"""An integration event as it travels: what the outbox stores, the bus carries, handlers get."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from boxoffice.core.events.payloads import EventReader

ReaderT = TypeVar("ReaderT", bound="EventReader")

# Dotted facts in the past tense: `booking.created`, `payment.refunded`.
EVENT_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


class MalformedEvent(ValueError):
    """A message on the bus could not be read as an event."""


def check_event_name(name: str) -> str:
    if not isinstance(name, str) or len(name) > 120 or not EVENT_NAME.match(name):
        raise ValueError(f"event names are dotted lower-case facts like 'order.placed': {name!r}")
    return name


def _plain(value: Any) -> Any:
    """JSON for the types services naturally put in payloads (amounts stay exact, as strings)."""
    if isinstance(value, uuid.UUID | decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not allowed in an event payload")


def to_json_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload as plain JSON data (UUIDs, decimals and times become strings)."""
    if not isinstance(payload, dict):
        raise TypeError("an event payload is a dict")
    result: dict[str, Any] = json.loads(json.dumps(payload, default=_plain))
    return result


@dataclass(frozen=True)
class Event:
    """An integration event: an id and a creation time, a name, its source and a payload."""

    id: uuid.UUID
    name: str
    source: str
    occurred_at: dt.datetime
    correlation_id: str | None
    payload: dict[str, Any] = field(default_factory=dict)
    aggregate_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "source": self.source,
            "occurred_at": self.occurred_at.isoformat(),
            "correlation_id": self.correlation_id,
            "aggregate_id": self.aggregate_id,
            "payload": self.payload,
        }

    def read(self, reader: type[ReaderT]) -> ReaderT:
        """The payload as a consumer's typed reader (core.events.payloads.read_event)."""
        from boxoffice.core.events.payloads import read_event

        return read_event(self, reader)

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, body: bytes | str) -> Event:
        """Read an event off the wire; anything unreadable is a `MalformedEvent`."""
        try:
            data = json.loads(body)
            occurred = dt.datetime.fromisoformat(data["occurred_at"])
            if occurred.tzinfo is None:
                occurred = occurred.replace(tzinfo=dt.UTC)
            payload = data.get("payload") or {}
            if not isinstance(payload, dict):
                raise TypeError("payload is not an object")
            correlation = data.get("correlation_id")
            aggregate = data.get("aggregate_id")
            return cls(
                id=uuid.UUID(str(data["id"])),
                name=check_event_name(data["name"]),
                source=str(data["source"]),
                occurred_at=occurred,
                correlation_id=None if correlation is None else str(correlation),
                payload=payload,
                aggregate_id=None if aggregate is None else str(aggregate),
            )
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise MalformedEvent(f"not an event: {exc}") from exc


# What a handler receives; the same shape the producer recorded (tolerant reader: read only
# the payload fields you need).
IncomingEvent = Event
