"""Faults the consumers ride out: an unreadable message, a lost broker connection."""

from __future__ import annotations

import asyncio

import aio_pika
import pytest
import sqlalchemy as sa

from boxoffice.core.db import Database, utcnow
from boxoffice.core.events.local import messages
from boxoffice.core.events.rabbitmq import RabbitBus
from tests.core.events.conftest import eventually, metric
from tests.core.events.test_contract import _count, _zero, ledger_handlers


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


def _unreachable_database(world) -> Database:
    if world.adapter == "rabbitmq":
        return Database("postgresql+asyncpg://postgres@127.0.0.1:1/nowhere")
    # A directory where the database file should be: SQLite cannot open it.
    return Database(f"sqlite+aiosqlite:///{world.settings.data_dir.resolve()}")


async def test_events_wait_out_an_outage_of_the_consumers_database_instead_of_dying(world):
    shop, ledger = world.name("shop"), world.name("ledger")
    ledger_ctx = await world.service(ledger, ledger_handlers(ledger))
    shop_ctx = await world.service(shop)
    healthy_db, ledger_ctx.db = ledger_ctx.db, _unreachable_database(world)
    try:
        order_id = await world.place_order(shop_ctx)
        await eventually(lambda: _zero(world.unpublished(shop_ctx)))
        # Far longer than the three quick attempts that would dead-letter a failing handler.
        await asyncio.sleep(1.0)
        assert await world.bus.dead_letters(ledger) == []
    finally:
        await ledger_ctx.db.dispose()
        ledger_ctx.db = healthy_db

    entries = await eventually(lambda: world.entries(ledger_ctx))
    assert [e.order_id for e in entries] == [str(order_id)]
    assert await world.bus.dead_letters(ledger) == []
    assert metric("events_dead_lettered_total", ledger, "order.placed") == 0
