"""Several relays on one PostgreSQL outbox (replicas of a service): each event goes out once,
and one aggregate's events still go out in order."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import text

from boxoffice.core.db import Database
from boxoffice.core.events import record_event
from boxoffice.core.events.rabbitmq import RabbitBus
from boxoffice.core.events.relay import Relay
from tests.core.events.conftest import eventually, metric
from tests.core.events.test_contract import _count, _zero, ledger_handlers


class _Slow:
    """A relay's bus with latency: a slow relay holds its rows while the other races on."""

    def __init__(self, bus, latency):
        self.bus = bus
        self.latency = latency

    async def publish(self, events):
        await asyncio.sleep(self.latency)
        await self.bus.publish(events)


@pytest.mark.parametrize("adapter", ["rabbitmq"])
async def test_two_relays_at_once_publish_each_event_exactly_once_and_in_order(world):
    shop, ledger = world.name("shop"), world.name("ledger")
    ledger_ctx = await world.service(ledger, ledger_handlers(ledger))
    shop_ctx = await world.service(shop, relay=False)
    orders_ids = [uuid.uuid4() for _ in range(10)]
    for seq in range(12):
        async with shop_ctx.db.sessionmaker() as session, session.begin():
            for order_id in orders_ids:
                record_event(
                    session,
                    "order.placed",
                    {"order_id": order_id, "seq": seq},
                    aggregate_id=order_id,
                )

    # Two relay processes: each its own database pool and its own broker connection.
    relays = []
    for latency in (0.08, 0.0):
        db = Database(shop_ctx.db.url)
        bus = RabbitBus(world.settings.rabbitmq_url, prefix=world.settings.db_prefix)
        world.extra_buses.append(bus)
        relays.append((Relay(shop, db, _Slow(bus, latency), batch_size=3, poll_seconds=0.2), db))
    tasks = [asyncio.create_task(relay.run()) for relay, _ in relays]
    try:
        await eventually(lambda: _count(world.entries(ledger_ctx), 120), timeout=60)
        await eventually(lambda: _zero(world.unpublished(shop_ctx)))
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for _, db in relays:
            await db.dispose()

    # The marker: with both relays stopped, one more event per order, published after every
    # publish they made. One order's events are delivered and handled in the order they were
    # published, so a duplicate either relay sent was handled (and counted) before its
    # order's marker is booked: once every marker is, nothing more can arrive.
    async with shop_ctx.db.sessionmaker() as session, session.begin():
        for order_id in orders_ids:
            record_event(
                session, "order.placed", {"order_id": order_id, "seq": 12}, aggregate_id=order_id
            )
    await Relay(shop, shop_ctx.db, world.bus).drain()
    entries = await eventually(lambda: _count(world.entries(ledger_ctx), 130), timeout=60)

    assert metric("events_published_total", shop, "order.placed") == 130
    assert metric("events_duplicates_total", ledger, "order.placed") == 0
    assert metric("events_consumed_total", ledger, "order.placed") == 130
    for order_id in orders_ids:
        assert [e.seq for e in entries if e.order_id == str(order_id)] == list(range(13))


@pytest.mark.parametrize("adapter", ["rabbitmq"])
async def test_an_event_committed_where_no_relay_runs_is_published_by_the_poll(world):
    shop, ledger = world.name("shop"), world.name("ledger")
    ledger_ctx = await world.service(ledger, ledger_handlers(ledger))
    shop_ctx = await world.service(shop, relay=False)
    # Its own engine, as in another process: the in-process signal does not reach it (an
    # operator's command writes events without a relay of its own), its poll does.
    db = Database(shop_ctx.db.url)
    relay = Relay(shop, db, world.bus, poll_seconds=0.3)
    task = asyncio.create_task(relay.run())
    try:
        order_id = await world.place_order(shop_ctx)
        entries = await eventually(lambda: world.entries(ledger_ctx))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await db.dispose()
    assert [e.order_id for e in entries] == [str(order_id)]


@pytest.mark.parametrize("adapter", ["rabbitmq"])
async def test_an_event_held_back_behind_another_relays_batch_goes_out_without_the_poll(world):
    """A relay stops at a short batch (no empty claim after it). An order's second event,
    committed by another process while a relay of a third is still publishing the first, is
    then known to neither: the relay of its own process, which finds it held back, looks
    again shortly until it may take it. Both polls are a minute here, so only that can send it
    in time."""
    shop, ledger = world.name("shop"), world.name("ledger")
    ledger_ctx = await world.service(ledger, ledger_handlers(ledger))
    shop_ctx = await world.service(shop, relay=False)
    order_id = await world.place_order(shop_ctx, seq=0)

    relays, dbs = [], []
    for latency in (0.6, 0.0):  # a slow relay, which claims the first event, then the other
        db = Database(shop_ctx.db.url)
        bus = RabbitBus(world.settings.rabbitmq_url, prefix=world.settings.db_prefix)
        world.extra_buses.append(bus)
        relays.append(Relay(shop, db, _Slow(bus, latency), poll_seconds=60))
        dbs.append(db)
    tasks = [asyncio.create_task(relays[0].run())]
    try:
        await eventually(lambda: _holds_a_row(dbs[1]), timeout=10)
        tasks.append(asyncio.create_task(relays[1].run()))
        # The second event, from the other relay's process while the slow one publishes.
        async with dbs[1].sessionmaker() as session, session.begin():
            record_event(
                session, "order.placed", {"order_id": order_id, "seq": 1}, aggregate_id=order_id
            )
        entries = await eventually(lambda: _count(world.entries(ledger_ctx), 2), timeout=10)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for db in dbs:
            await db.dispose()
    assert [e.seq for e in entries] == [0, 1]


async def _holds_a_row(db: Database) -> bool:
    """Whether a relay has claimed an outbox row (it is locked: SKIP LOCKED finds none)."""
    async with db.sessionmaker() as session, session.begin():
        free = await session.scalar(
            text(
                "SELECT count(*) FROM (SELECT 1 FROM event_outbox WHERE published_at IS NULL"
                " FOR UPDATE SKIP LOCKED) AS free"
            )
        )
    return free == 0


async def test_one_drain_publishes_an_aggregates_queued_events_one_after_another(world):
    """Only the head of an aggregate's queue is claimed; once it is out, the same drain goes
    on for the next (the claim says a later one is waiting), with no wake and no poll."""
    shop = world.name("shop")
    shop_ctx = await world.service(shop, relay=False)
    order_id = uuid.uuid4()
    async with shop_ctx.db.sessionmaker() as session, session.begin():
        for seq in range(3):
            record_event(
                session, "order.placed", {"order_id": order_id, "seq": seq}, aggregate_id=order_id
            )
    assert await Relay(shop, shop_ctx.db, world.bus, poll_seconds=60).drain() == 3
    assert await world.unpublished(shop_ctx) == 0
