"""Faults the consumers ride out: an unreadable message, a lost broker connection."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import pytest
import sqlalchemy as sa

from boxoffice.core.db import Database, utcnow
from boxoffice.core.events.envelope import Event
from boxoffice.core.events.local import messages
from boxoffice.core.events.rabbitmq import RabbitBus
from tests.core.events.conftest import eventually, metric
from tests.core.events.test_contract import _count, _zero, ledger_handlers
from tests.servers import TcpProxy


async def _inject_garbage(world, queue: str) -> None:
    """A message no producer of ours would write, put where the ledger consumes."""
    if isinstance(world.bus, RabbitBus):
        connection = await aio_pika.connect(world.settings.rabbitmq_url)
        async with connection:
            channel = await connection.channel()
            exchange = await channel.get_exchange(world.bus.exchange_name)
            await exchange.publish(
                aio_pika.Message(b"{not json", message_id="garbage-1"), routing_key="order.placed"
            )
    else:
        engine = await world.bus._engine()
        async with engine.begin() as conn:
            await conn.execute(
                sa.insert(messages).values(queue=queue, body="{not json", enqueued_at=utcnow())
            )


async def test_an_unreadable_message_is_dead_lettered_and_the_next_one_is_handled(world):
    shop, ledger = world.name("shop"), world.name("ledger")
    ledger_ctx = await world.service(ledger, ledger_handlers(ledger))
    shop_ctx = await world.service(shop)

    await _inject_garbage(world, ledger)
    order_id = await world.place_order(shop_ctx)

    entries = await eventually(lambda: world.entries(ledger_ctx))
    assert [e.order_id for e in entries] == [str(order_id)]
    [letter] = await eventually(lambda: world.bus.dead_letters(ledger))
    assert letter.event_id is None
    assert "not an event" in letter.error


@pytest.mark.parametrize("adapter", ["rabbitmq"])
async def test_a_consumer_whose_connection_drops_reconnects_and_misses_nothing(world):
    shop, ledger = world.name("shop"), world.name("ledger")
    ledger_ctx = await world.service(ledger, ledger_handlers(ledger))
    shop_ctx = await world.service(shop)
    first = await world.place_order(shop_ctx, seq=1)
    await eventually(lambda: world.entries(ledger_ctx))

    for connection in list(world.bus._consumers):
        await connection.close()
    placed = [str(await world.place_order(shop_ctx, seq=i)) for i in range(2, 7)]

    entries = await eventually(lambda: _count(world.entries(ledger_ctx), 6))
    assert sorted(e.order_id for e in entries) == sorted([str(first), *placed])
    assert len(world.bus._consumers) == 1  # the consumer is back, on a new connection


@pytest.mark.parametrize("adapter", ["rabbitmq"])
async def test_a_bus_whose_connection_the_broker_dropped_publishes_again(world):
    """SPEC 4.7: with RabbitMQ back after a restart, the outbox's events go out (and readiness
    says the broker answers) without restarting the service."""
    url = urlsplit(world.settings.rabbitmq_url)
    proxy = TcpProxy(url.port or 5672)
    port = await proxy.start()
    bus = RabbitBus(
        urlunsplit(url._replace(netloc=f"{url.username}:{url.password}@127.0.0.1:{port}")),
        prefix=world.settings.db_prefix,
    )
    event = Event(uuid.uuid4(), "order.placed", "shop", utcnow(), None, {"seq": 1})
    try:
        await bus.publish([event])
        proxy.cut()

        async def answers() -> bool:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(bus.ping(), timeout=1)
                return True
            return False

        await eventually(answers)
        await bus.publish([event])  # confirmed by the broker, or this raises
    finally:
        await bus.aclose()
        await bus.delete_topology()
        await proxy.stop()


@pytest.mark.parametrize("adapter", ["rabbitmq"])
async def test_a_broadcast_listener_the_broker_dropped_says_so_and_can_listen_again(world):
    """Its caller (the events wiring) reconnects when `broadcast` ends; one that never ended
    left the process deaf to every broadcast (catalog changes) after a broker restart."""
    url = urlsplit(world.settings.rabbitmq_url)
    proxy = TcpProxy(url.port or 5672)
    port = await proxy.start()
    bus = RabbitBus(
        urlunsplit(url._replace(netloc=f"{url.username}:{url.password}@127.0.0.1:{port}")),
        prefix=world.settings.db_prefix,
    )

    async def ignore(event: Event) -> None:
        return None

    listening = asyncio.Event()
    listener = asyncio.create_task(bus.broadcast(["order.placed"], ignore, listening))
    try:
        await asyncio.wait_for(listening.wait(), timeout=20)
        proxy.cut()
        with pytest.raises(ConnectionError):
            await asyncio.wait_for(listener, timeout=10)
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
        await bus.aclose()
        await bus.delete_topology()
        await proxy.stop()


def _unreachable_database(world) -> Database:
    if world.adapter == "rabbitmq":
        return Database("postgresql+asyncpg://postgres@127.0.0.1:1/nowhere")
    # A directory where the database file should be: SQLite cannot open it.
    return Database(f"sqlite+aiosqlite:///{world.settings.data_dir.resolve()}")


def _count_pings(db: Database) -> Callable[[], int]:
    """Count the database's pings; how many so far."""
    pings = 0
    ping = db.ping

    async def counted() -> None:
        nonlocal pings
        pings += 1
        await ping()

    db.ping = counted  # type: ignore[method-assign]
    return lambda: pings


async def test_events_wait_out_an_outage_of_the_consumers_database_instead_of_dying(world):
    shop, ledger = world.name("shop"), world.name("ledger")
    ledger_ctx = await world.service(ledger, ledger_handlers(ledger))
    shop_ctx = await world.service(shop)
    unreachable = _unreachable_database(world)
    failed_attempts = _count_pings(unreachable)
    healthy_db, ledger_ctx.db = ledger_ctx.db, unreachable
    try:
        order_id = await world.place_order(shop_ctx)
        await eventually(lambda: _zero(world.unpublished(shop_ctx)))
        # The marker: the consumer pings its database after each failed attempt. Twice as
        # many failed attempts as would dead-letter a failing handler means this one was
        # not given up (a dead-lettered event is tried no more), however slow the machine.
        allowed = world.settings.event_max_attempts
        await eventually(lambda: failed_attempts() > 2 * allowed)
        assert await world.bus.dead_letters(ledger) == []
    finally:
        await ledger_ctx.db.dispose()
        ledger_ctx.db = healthy_db

    entries = await eventually(lambda: world.entries(ledger_ctx))
    assert [e.order_id for e in entries] == [str(order_id)]
    assert await world.bus.dead_letters(ledger) == []
    assert metric("events_dead_lettered_total", ledger, "order.placed") == 0
