"""The RabbitMQ bus of distributed mode (aio-pika).

Topology, declared by code (no manual setup), names behind the optional BOXOFFICE_DB_PREFIX:
- `boxoffice.events`: one durable topic exchange; routing key = event name.
- `boxoffice.<service>`: a durable quorum queue per consuming service, bound to the names it
  handles. Its dead-letter exchange catches what the broker itself gives up on (a message
  whose deliveries keep crashing the consumer, past `DELIVERY_LIMIT`).
- `boxoffice.<service>.dlx` (fanout) → `boxoffice.<service>.dead-letters` (quorum): events the
  consumer gave up on after its bounded retries, with the last error in the headers.
Publishing waits for publisher confirms; a message is acked only after its handler committed,
or after its dead letter was confirmed.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Collection, Iterable, Sequence
from typing import Any

import aio_pika
import structlog
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
)
from pamqp.commands import Basic

from boxoffice.core.events.bus import (
    BusClosed,
    DeadLetter,
    Handle,
    Notice,
    Outcome,
    describe_error,
)
from boxoffice.core.events.envelope import Event, MalformedEvent
from boxoffice.core.events.rabbitmq_letters import (
    DELIVERY_LIMIT,
    PublishNotConfirmed,
    browse_dead_letters,
    dead_letter_message,
    replay_dead_letters,
)

log = structlog.get_logger("boxoffice.events")


def _alive(connection: Any) -> bool:
    """Whether an aio-pika connection can still carry frames.

    `is_closed` turns true only after our own `close()`; a connection the broker dropped
    (restart, kill, cut socket) stays "open" with no transport, and `connected` is cleared.
    """
    transport = connection.transport
    return (
        not connection.is_closed
        and connection.connected.is_set()
        and transport is not None
        and not transport.connection.is_closed
    )


async def _until_lost(connection: Any, channel: AbstractChannel) -> None:
    """Wait until the connection or the channel ends, however it ends.

    aio-pika completes `connection.closed()` only after our own `close()`; a connection the
    broker or the network ended (restart, kill, cut socket) is seen through its close callbacks.
    """
    ended: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    def note(*_: Any) -> None:
        if not ended.done():
            ended.set_result(True)

    connection.close_callbacks.add(note)
    waiters = [
        ended,
        asyncio.ensure_future(connection.closed()),
        asyncio.ensure_future(channel.closed()),
    ]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        connection.close_callbacks.discard(note)


def _message(event: Event, headers: dict[str, Any] | None = None) -> aio_pika.Message:
    base: dict[str, Any] = {"source": event.source}
    if event.correlation_id:
        base["correlation_id"] = event.correlation_id
    if event.aggregate_id:
        base["aggregate_id"] = event.aggregate_id
    return aio_pika.Message(
        event.to_json(),
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=str(event.id),
        type=event.name,
        app_id=event.source,
        correlation_id=event.correlation_id,
        timestamp=event.occurred_at,
        headers={**base, **(headers or {})},
    )


class RabbitBus:
    """Publishing with confirms, one durable quorum queue per service, dead letters kept."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "",
        prefetch: int = 20,
        timeout: float = 10.0,
        consumers: Iterable[str] = (),
    ) -> None:
        self.url = url
        # The consumers whose queues `dead_letters` and `replay` look in when not told one,
        # besides those this bus declared (a CLI's bus declares none).
        self.consumers = frozenset(consumers)
        self.prefix = prefix
        self.prefetch = prefetch
        self.timeout = timeout
        self.exchange_name = f"{prefix}boxoffice.events"
        self._connection: Any = None
        self._publisher: tuple[AbstractChannel, AbstractExchange] | None = None
        self._lock: asyncio.Lock | None = None
        self._publisher_lock: asyncio.Lock | None = None
        self._consumers: set[Any] = set()
        self.declared: set[str] = set()
        self._exchange_declared = False
        self._closed = False

    def __repr__(self) -> str:
        return f"RabbitBus(exchange={self.exchange_name!r})"

    @property
    def closed(self) -> bool:
        return self._closed

    def queue_name(self, service: str) -> str:
        return f"{self.prefix}boxoffice.{service}"

    def dlx_name(self, service: str) -> str:
        return f"{self.prefix}boxoffice.{service}.dlx"

    def dlq_name(self, service: str) -> str:
        return f"{self.prefix}boxoffice.{service}.dead-letters"

    async def _connect(self) -> Any:
        if self._closed:
            raise BusClosed("the RabbitMQ bus is closed")
        return await aio_pika.connect(self.url, timeout=self.timeout)

    async def _shared(self) -> Any:
        """The connection for publishing and operations, reopened when it was lost."""
        self._lock = self._lock or asyncio.Lock()
        async with self._lock:
            if self._connection is None or not _alive(self._connection):
                await self._drop_shared()
                self._connection = await self._connect()
            return self._connection

    async def _drop_shared(self) -> None:
        """Forget the shared connection (and its publishing channel); the next use opens anew."""
        connection, self._connection = self._connection, None
        await self._drop_publisher()
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()

    async def _declare(
        self, channel: AbstractChannel, service: str, names: Collection[str]
    ) -> tuple[AbstractQueue, AbstractExchange]:
        # Noted first, so a declaration that fails half-way is still cleaned up.
        self.declared.add(service)
        self._exchange_declared = True
        exchange = await channel.declare_exchange(
            self.exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
        )
        dlx = await channel.declare_exchange(
            self.dlx_name(service), aio_pika.ExchangeType.FANOUT, durable=True
        )
        dlq = await channel.declare_queue(
            self.dlq_name(service), durable=True, arguments={"x-queue-type": "quorum"}
        )
        await dlq.bind(dlx, routing_key="")
        queue = await channel.declare_queue(
            self.queue_name(service),
            durable=True,
            arguments={
                "x-queue-type": "quorum",
                "x-delivery-limit": DELIVERY_LIMIT,
                "x-dead-letter-exchange": self.dlx_name(service),
                # The broker's own dead-lettering is at-least-once too (RabbitMQ ≥ 3.10).
                "x-dead-letter-strategy": "at-least-once",
                "x-overflow": "reject-publish",
            },
        )
        for name in names:
            await queue.bind(exchange, routing_key=name)
        return queue, dlx

    async def declare(self, service: str, names: Collection[str]) -> None:
        connection = await self._shared()
        async with connection.channel() as channel:
            await self._declare(channel, service, names)

    async def _publishing_exchange(self) -> AbstractExchange:
        """One confirming channel shared by the relays of this process."""
        connection = await self._shared()
        self._publisher_lock = self._publisher_lock or asyncio.Lock()
        async with self._publisher_lock:
            if self._publisher is None or self._publisher[0].is_closed:
                channel = await connection.channel(publisher_confirms=True)
                exchange = await channel.declare_exchange(
                    self.exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
                )
                self._publisher = (channel, exchange)
                self._exchange_declared = True
            return self._publisher[1]

    async def publish(self, events: Sequence[Event]) -> None:
        if not events:
            return
        try:
            exchange = await self._publishing_exchange()
            # The relay hands over at most one event per aggregate at a time, so these may
            # be in flight together; each one's confirm is awaited.
            confirms = await asyncio.gather(
                *(
                    exchange.publish(
                        _message(e), routing_key=e.name, mandatory=False, timeout=self.timeout
                    )
                    for e in events
                )
            )
        except Exception:
            # Whatever failed, start the next attempt from a new connection: after a broker
            # restart the old one looks open but every channel on it fails ("closed"), and a
            # relay that kept it retried forever (issue 10).
            await self._drop_shared()
            raise
        for confirm in confirms:
            if not isinstance(confirm, Basic.Ack):
                await self._drop_publisher()
                raise PublishNotConfirmed(f"broker answered {confirm!r}")

    async def _drop_publisher(self) -> None:
        publisher, self._publisher = self._publisher, None
        if publisher is not None:
            with contextlib.suppress(Exception):
                await publisher[0].close()

    async def consume(self, service: str, names: Collection[str], handle: Handle) -> None:
        connection = await self._connect()
        self._consumers.add(connection)
        running: set[asyncio.Task[None]] = set()
        try:
            channel = await connection.channel(publisher_confirms=True)
            await channel.set_qos(prefetch_count=self.prefetch)
            queue, dlx = await self._declare(channel, service, names)

            async def on_message(message: AbstractIncomingMessage) -> None:
                task = asyncio.create_task(self._deliver(message, handle, dlx, service))
                running.add(task)
                task.add_done_callback(running.discard)

            await queue.consume(on_message)
            # aio-pika marks a connection closed only when *we* close it; one the broker or
            # the network ended is seen through its close callbacks.
            await _until_lost(connection, channel)
            raise ConnectionError(f"lost the RabbitMQ connection of {service}'s consumer")
        finally:
            for task in list(running):
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
            self._consumers.discard(connection)
            with contextlib.suppress(Exception):
                await connection.close()

    async def broadcast(
        self, names: Collection[str], notice: Notice, ready: asyncio.Event | None = None
    ) -> None:
        connection = await self._connect()
        self._consumers.add(connection)
        try:
            channel = await connection.channel()
            exchange = await channel.declare_exchange(
                self.exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
            )
            self._exchange_declared = True
            # A queue of this process alone, gone with its connection.
            queue = await channel.declare_queue(exclusive=True, auto_delete=True)
            for name in names:
                await queue.bind(exchange, routing_key=name)

            async def on_message(message: AbstractIncomingMessage) -> None:
                try:
                    await notice(Event.from_json(message.body))
                except Exception as exc:
                    log.warning("broadcast_notice_failed", error=describe_error(exc))

            await queue.consume(on_message, no_ack=True)
            if ready is not None:
                ready.set()
            await _until_lost(connection, channel)
            raise ConnectionError("lost the RabbitMQ connection of a broadcast listener")
        finally:
            self._consumers.discard(connection)
            with contextlib.suppress(Exception):
                await connection.close()

    async def _deliver(
        self,
        message: AbstractIncomingMessage,
        handle: Handle,
        dlx: AbstractExchange,
        service: str,
    ) -> None:
        try:
            try:
                event = Event.from_json(message.body)
            except MalformedEvent as exc:
                await self._dead_letter(message, dlx, service, Outcome("dead", 1, str(exc)))
                return
            count = (message.headers or {}).get("x-delivery-count")
            earlier = count if isinstance(count, int) else 0
            try:
                outcome = await handle(event, earlier)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error("event_delivery_failed", service=service, error=describe_error(exc))
                await message.nack(requeue=True)
                return
            if outcome.status == "dead":
                await self._dead_letter(message, dlx, service, outcome)
            else:
                await message.ack()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # The channel went away: unacked, the message is redelivered (the inbox absorbs it).
            log.warning("event_settle_failed", service=service, error=describe_error(exc))

    async def _dead_letter(
        self,
        message: AbstractIncomingMessage,
        dlx: AbstractExchange,
        service: str,
        outcome: Outcome,
    ) -> None:
        """Publish to the service's DLX with the error, confirmed, and only then ack."""
        confirm = await dlx.publish(
            dead_letter_message(message, outcome),
            routing_key=message.routing_key or "",
            mandatory=False,
            timeout=self.timeout,
        )
        if not isinstance(confirm, Basic.Ack):
            raise PublishNotConfirmed(f"dead letter of {service} not confirmed: {confirm!r}")
        await message.ack()

    async def ping(self) -> None:
        # A channel opened and closed on the shared connection: a real round trip (a connection
        # that died silently still looks open), and the connection is there for the relay next.
        connection = await self._shared()
        channel = await connection.channel()
        await channel.close()

    def _services(self, service: str | None) -> list[str]:
        if service is not None:
            return [service]
        return sorted(self.consumers | self.declared)

    async def dead_letters(self, service: str | None = None, limit: int = 500) -> list[DeadLetter]:
        connection = await self._shared()
        letters: list[DeadLetter] = []
        for name in self._services(service):
            letters += await browse_dead_letters(
                connection, name, self.dlq_name(name), limit - len(letters), self.timeout
            )
        return letters

    async def replay(self, event_id: uuid.UUID, service: str | None = None) -> int:
        connection = await self._shared()
        replayed = 0
        for name in self._services(service):
            replayed += await replay_dead_letters(
                connection, event_id, self.dlq_name(name), self.queue_name(name), self.timeout
            )
        return replayed

    async def delete_topology(self) -> None:
        """Delete every queue and exchange this bus declared (tests and throwaway systems)."""
        if not self._exchange_declared:
            return
        # Its own connection: this also runs after `aclose` (a test's clean-up).
        connection = await aio_pika.connect(self.url, timeout=self.timeout)
        async with connection, connection.channel() as channel:
            for service in sorted(self.declared):
                for queue in (self.queue_name(service), self.dlq_name(service)):
                    await channel.queue_delete(queue)
                await channel.exchange_delete(self.dlx_name(service))
            await channel.exchange_delete(self.exchange_name)
        self.declared.clear()
        self._exchange_declared = False

    async def aclose(self) -> None:
        self._closed = True
        await self._drop_publisher()
        for connection in list(self._consumers):
            with contextlib.suppress(Exception):
                await connection.close()
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close()
            self._connection = None
