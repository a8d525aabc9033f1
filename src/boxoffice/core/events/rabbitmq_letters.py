"""Dead letters on RabbitMQ: the copy a consumer sends to its DLX, reading them in place, and
replaying them onto their service's queue."""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage
from aio_pika.exceptions import ChannelNotFoundEntity
from pamqp.commands import Basic

from boxoffice.core.events.bus import DeadLetter, Outcome
from boxoffice.core.events.envelope import Event, MalformedEvent

# Deliveries after which the broker itself dead-letters a message (consumer crash loops);
# a queue argument, so it stays fixed (changing it would make redeclaring the queue fail).
DELIVERY_LIMIT = 20
ERROR_HEADER = "x-boxoffice-error"
ATTEMPTS_HEADER = "x-boxoffice-attempts"
DEAD_AT_HEADER = "x-boxoffice-dead-at"
_BROKER_HEADERS = ("x-death", "x-delivery-count", "x-first-death-exchange", "x-first-death-queue")


class PublishNotConfirmed(ConnectionError):
    """The broker did not confirm a published event."""


def _copy(message: AbstractIncomingMessage, headers: dict[str, Any]) -> aio_pika.Message:
    return aio_pika.Message(
        message.body,
        content_type=message.content_type,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=message.message_id,
        type=message.type,
        app_id=message.app_id,
        correlation_id=message.correlation_id,
        timestamp=message.timestamp,
        headers=headers,
    )


def dead_letter_message(message: AbstractIncomingMessage, outcome: Outcome) -> aio_pika.Message:
    """The message as a dead letter: the same event, with why and when it was given up on."""
    headers = {k: v for k, v in (message.headers or {}).items() if k not in _BROKER_HEADERS}
    headers[ERROR_HEADER] = outcome.error or ""
    headers[ATTEMPTS_HEADER] = outcome.attempts
    headers[DEAD_AT_HEADER] = dt.datetime.now(dt.UTC).isoformat()
    return _copy(message, headers)


def replay_message(message: AbstractIncomingMessage) -> aio_pika.Message:
    """A dead letter as a fresh delivery: its own headers back, the failure ones dropped."""
    headers = {
        k: v
        for k, v in (message.headers or {}).items()
        if k not in _BROKER_HEADERS and not k.startswith("x-boxoffice-")
    }
    return _copy(message, headers)


async def browse_dead_letters(
    connection: Any, service: str, queue_name: str, limit: int, timeout: float
) -> list[DeadLetter]:
    """Read a dead-letter queue without removing anything: fetched unacked, returned when the
    channel closes."""
    letters: list[DeadLetter] = []
    channel = await connection.channel()
    try:
        try:
            queue = await channel.declare_queue(queue_name, passive=True)
        except ChannelNotFoundEntity:
            return letters
        while len(letters) < limit:
            message = await queue.get(no_ack=False, fail=False, timeout=timeout)
            if message is None:
                break
            letters.append(read_dead_letter(service, message))
    finally:
        with contextlib.suppress(Exception):
            await channel.close()
    return letters


async def replay_dead_letters(
    connection: Any, event_id: uuid.UUID, dlq_name: str, queue_name: str, timeout: float
) -> int:
    """Move an event's dead letters from `dlq_name` to `queue_name`; how many."""
    replayed = 0
    channel = await connection.channel(publisher_confirms=True)
    try:
        try:
            queue = await channel.declare_queue(dlq_name, passive=True)
        except ChannelNotFoundEntity:
            return 0
        while True:
            message = await queue.get(no_ack=False, fail=False, timeout=timeout)
            if message is None:
                break
            if message.message_id != str(event_id):
                continue  # returned to the dead letters when the channel closes
            # Straight to that service's queue: the other consumers already have it.
            confirm = await channel.default_exchange.publish(
                replay_message(message), routing_key=queue_name, timeout=timeout
            )
            if not isinstance(confirm, Basic.Ack):
                raise PublishNotConfirmed(f"replay to {queue_name} not confirmed")
            await message.ack()
            replayed += 1
    finally:
        with contextlib.suppress(Exception):
            await channel.close()
    return replayed


def read_dead_letter(service: str, message: AbstractIncomingMessage) -> DeadLetter:
    headers = message.headers or {}
    try:
        event: Event | None = Event.from_json(message.body)
    except MalformedEvent:
        event = None
    error = headers.get(ERROR_HEADER)
    if error is None:  # dead-lettered by the broker itself (delivery limit)
        deaths = headers.get("x-death")
        first = deaths[0] if isinstance(deaths, list) and deaths else None
        reason = first.get("reason") if isinstance(first, dict) else None
        error = f"dead-lettered by the broker ({reason!s})"
    dead_at = headers.get(DEAD_AT_HEADER)
    with contextlib.suppress(TypeError, ValueError):
        dead_at = dt.datetime.fromisoformat(str(dead_at)) if dead_at else None
    attempts = headers.get(ATTEMPTS_HEADER)
    return DeadLetter(
        service=service,
        event_id=event.id if event else None,
        name=event.name if event else (message.type or "?"),
        source=event.source if event else (message.app_id or "?"),
        occurred_at=event.occurred_at if event else None,
        attempts=int(attempts) if isinstance(attempts, int) else DELIVERY_LIMIT,
        error=str(error),
        dead_at=dead_at if isinstance(dead_at, dt.datetime) else None,
        correlation_id=event.correlation_id if event else None,
        payload=event.payload if event else None,
    )
