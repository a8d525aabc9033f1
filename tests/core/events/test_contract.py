"""The events contract, run against both buses: the in-process broker (embedded mode, SQLite)
and RabbitMQ (distributed mode, PostgreSQL). A shop records `order.placed` in its outbox; a
ledger books each order once."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import pytest
import sqlalchemy as sa

from boxoffice.core.events import Event, EventHandlers, IncomingEvent, record_event
from boxoffice.core.events.relay import Relay
from boxoffice.core.observability import OUTBOX_LAG, bind_correlation_id
from tests.core.events.conftest import eventually, ledger_entries, metric


def ledger_handlers(name: str, calls: list[IncomingEvent] | None = None) -> EventHandlers:
    """The ledger books one entry per order; an order with `poison` always fails."""
    handlers = EventHandlers(name)

    @handlers.on("order.placed")
    async def book(event, session, ctx):
        if calls is not None:
            calls.append(event)
        if event.payload.get("poison"):
            raise ValueError("cannot book a poisoned order")
        await session.execute(
            sa.insert(ledger_entries).values(
                event_id=event.id,
                order_id=event.payload["order_id"],
                seq=event.payload.get("seq"),
                correlation_id=event.correlation_id,
            )
        )

    return handlers


async def test_a_committed_event_reaches_the_consumer_once_with_its_envelope(world):
    shop, ledger = world.name("shop"), world.name("ledger")
    calls: list[IncomingEvent] = []
    ledger_ctx = await world.service(ledger, ledger_handlers(ledger, calls))
    shop_ctx = await world.service(shop)

    with bind_correlation_id("req-42"):
        order_id = await world.place_order(shop_ctx)

    entries = await eventually(lambda: world.entries(ledger_ctx))
    assert [(e.order_id, e.correlation_id) for e in entries] == [(str(order_id), "req-42")]
    event = calls[0]
    assert event.name == "order.placed"
    assert event.source == shop
    assert event.payload["order_id"] == str(order_id)
    assert event.occurred_at.tzinfo is not None
    await eventually(lambda: _zero(world.unpublished(shop_ctx)))
    assert metric("events_published_total", shop, "order.placed") == 1
    assert metric("events_consumed_total", ledger, "order.placed") == 1


async def _zero(awaitable):
    return await awaitable == 0


async def test_a_rolled_back_transaction_publishes_nothing(world):
    shop, ledger = world.name("shop"), world.name("ledger")
    ledger_ctx = await world.service(ledger, ledger_handlers(ledger))
    shop_ctx = await world.service(shop)

    order_id = uuid.uuid4()
    with pytest.raises(RuntimeError):
        async with shop_ctx.db.sessionmaker() as session, session.begin():
            record_event(session, "order.placed", {"order_id": "never"}, aggregate_id=order_id)
            raise RuntimeError("the order could not be saved")
    # The marker: a committed event of the same aggregate, recorded after. One aggregate's
    # events are published and handled in the order they were recorded, so a wrongly
    # published rolled-back event would have been booked before the marker is.
    kept = await world.place_order(shop_ctx, order_id=order_id)

    entries = await eventually(lambda: world.entries(ledger_ctx))
    assert [e.order_id for e in entries] == [str(kept)]
    await eventually(lambda: _zero(world.unpublished(shop_ctx)))
    assert metric("events_published_total", shop, "order.placed") == 1


async def test_events_written_while_the_broker_is_down_all_go_out_once_it_returns(world):
    shop, ledger = world.name("shop"), world.name("ledger")
    ledger_ctx = await world.service(ledger, ledger_handlers(ledger))
    shop_ctx = await world.service(shop)
    await world.break_bus()

    placed = {str(await world.place_order(shop_ctx, seq=i)) for i in range(20)}

    # The orders themselves committed; their events wait in the outbox, measured as lag.
    await eventually(lambda: _positive(OUTBOX_LAG.labels(shop)._value.get()))
    assert await world.unpublished(shop_ctx) == 20
    assert await world.entries(ledger_ctx) == []

    await world.restore_bus()
    entries = await eventually(lambda: _count(world.entries(ledger_ctx), 20))
    await eventually(lambda: _zero(world.unpublished(shop_ctx)))
    assert {e.order_id for e in entries} == placed
    assert metric("events_published_total", shop, "order.placed") == 20
    assert metric("events_duplicates_total", ledger, "order.placed") == 0


async def _positive(value):
    return value > 0


async def _count(awaitable, expected):
    rows = await awaitable
    return rows if len(rows) >= expected else None


class _DiesAfterPublishing:
    """A bus through which a relay publishes, then dies before marking its rows published."""

    def __init__(self, bus):
        self.bus = bus

    async def publish(self, events):
        await self.bus.publish(events)
        raise SystemError("relay killed between publish and mark")


async def test_a_relay_killed_between_publish_and_mark_causes_no_second_effect(world):
    shop, ledger = world.name("shop"), world.name("ledger")
    ledger_ctx = await world.service(ledger, ledger_handlers(ledger))
    shop_ctx = await world.service(shop, relay=False)
    order_id = await world.place_order(shop_ctx)

    with pytest.raises(SystemError):
        await Relay(shop, shop_ctx.db, _DiesAfterPublishing(world.bus)).publish_pending()
    assert await world.unpublished(shop_ctx) == 1  # so the next relay sends it again
    assert await Relay(shop, shop_ctx.db, world.bus).drain() == 1

    await eventually(lambda: _positive(metric("events_duplicates_total", ledger, "order.placed")))
    entries = await world.entries(ledger_ctx)
    assert [e.order_id for e in entries] == [str(order_id)]
    assert metric("events_consumed_total", ledger, "order.placed") == 1


async def test_a_poisoned_event_is_dead_lettered_after_its_attempts_while_others_flow(world):
    shop, ledger = world.name("shop"), world.name("ledger")
    calls: list[IncomingEvent] = []
    ledger_ctx = await world.service(ledger, ledger_handlers(ledger, calls))
    shop_ctx = await world.service(shop)

    poisoned = await world.place_order(shop_ctx, poison=True)
    healthy = {str(await world.place_order(shop_ctx, seq=i)) for i in range(10)}

    entries = await eventually(lambda: _count(world.entries(ledger_ctx), 10))
    assert {e.order_id for e in entries} == healthy
    letters = await eventually(lambda: world.bus.dead_letters(ledger))
    assert len(letters) == 1
    letter = letters[0]
    assert letter.payload["order_id"] == str(poisoned)
    assert letter.name == "order.placed"
    assert letter.source == shop
    assert letter.attempts == 3
    assert "cannot book a poisoned order" in letter.error
    assert sum(1 for c in calls if c.payload.get("poison")) == 3
    assert metric("events_dead_lettered_total", ledger, "order.placed") == 1
    assert metric("events_retried_total", ledger, "order.placed") == 2
    # Listing leaves the dead letter in place.
    assert len(await world.bus.dead_letters(ledger)) == 1


async def test_a_replayed_dead_letter_is_handled_once_the_fault_is_fixed(world):
    shop, ledger = world.name("shop"), world.name("ledger")
    fixed = asyncio.Event()
    handlers = EventHandlers(ledger)

    @handlers.on("order.placed")
    async def book(event, session, ctx):
        if not fixed.is_set():
            raise ConnectionError("the ledger's printer is on fire")
        await session.execute(
            sa.insert(ledger_entries).values(event_id=event.id, order_id="replayed")
        )

    ledger_ctx = await world.service(ledger, handlers)
    shop_ctx = await world.service(shop)
    await world.place_order(shop_ctx)
    [letter] = await eventually(lambda: world.bus.dead_letters(ledger))

    fixed.set()
    assert await world.bus.replay(letter.event_id) == 1

    entries = await eventually(lambda: world.entries(ledger_ctx))
    assert [e.event_id for e in entries] == [letter.event_id]
    assert await world.bus.dead_letters(ledger) == []
    assert await world.bus.replay(letter.event_id) == 0


async def test_a_handler_that_fails_once_leaves_no_partial_writes(world):
    shop, ledger = world.name("shop"), world.name("ledger")
    attempts = []
    handlers = EventHandlers(ledger)

    @handlers.on("order.placed")
    async def book(event, session, ctx):
        attempts.append(event.id)
        await session.execute(sa.insert(ledger_entries).values(event_id=event.id, seq=0))
        if len(attempts) == 1:
            raise TimeoutError("the ledger's database blinked")

    ledger_ctx = await world.service(ledger, handlers)
    shop_ctx = await world.service(shop)
    await world.place_order(shop_ctx)

    await eventually(lambda: _positive(metric("events_consumed_total", ledger, "order.placed")))
    assert len(attempts) == 2
    assert len(await world.entries(ledger_ctx)) == 1
    assert await world.bus.dead_letters(ledger) == []


async def test_one_orders_events_are_handled_in_the_order_they_were_recorded(world):
    shop, ledger = world.name("shop"), world.name("ledger")
    ledger_ctx = await world.service(ledger, ledger_handlers(ledger))
    shop_ctx = await world.service(shop)
    orders_ids = [uuid.uuid4() for _ in range(3)]

    async with shop_ctx.db.sessionmaker() as session, session.begin():
        for seq in range(8):
            for order_id in orders_ids:
                record_event(
                    session,
                    "order.placed",
                    {"order_id": order_id, "seq": seq},
                    aggregate_id=order_id,
                )

    entries = await eventually(lambda: _count(world.entries(ledger_ctx), 24))
    for order_id in orders_ids:
        seqs = [e.seq for e in entries if e.order_id == str(order_id)]
        assert seqs == list(range(8))


async def test_events_wait_in_the_queue_while_the_consumer_is_down(world):
    shop, ledger = world.name("shop"), world.name("ledger")
    handlers = ledger_handlers(ledger)
    # The consumer's queue exists (declared at its start), but nothing consumes it yet.
    ledger_ctx = await world.service(ledger, handlers, consumer=False)
    shop_ctx = await world.service(shop)
    placed = {str(await world.place_order(shop_ctx, seq=i)) for i in range(5)}
    await eventually(lambda: _zero(world.unpublished(shop_ctx)))
    assert await world.entries(ledger_ctx) == []

    from boxoffice.core.events import events_wiring

    world.tasks.append(asyncio.create_task(events_wiring(handlers).background[1](ledger_ctx)))
    entries = await eventually(lambda: _count(world.entries(ledger_ctx), 5))
    assert {e.order_id for e in entries} == placed


async def test_a_commit_wakes_the_relay_without_waiting_for_its_poll(world, event_settings):
    world.settings.event_relay_poll_seconds = 3600  # the backstop poll would never come
    shop, ledger = world.name("shop"), world.name("ledger")
    ledger_ctx = await world.service(ledger, ledger_handlers(ledger))
    shop_ctx = await world.service(shop)
    await asyncio.sleep(0.2)  # the relay has drained the empty outbox and is waiting

    order_id = await world.place_order(shop_ctx)

    entries = await eventually(lambda: world.entries(ledger_ctx), timeout=30)
    assert [e.order_id for e in entries] == [str(order_id)]


async def test_events_the_consumer_does_not_handle_are_not_delivered_to_it(world):
    shop, ledger = world.name("shop"), world.name("ledger")
    calls: list[IncomingEvent] = []
    ledger_ctx = await world.service(ledger, ledger_handlers(ledger, calls))
    shop_ctx = await world.service(shop)

    async with shop_ctx.db.sessionmaker() as session, session.begin():
        record_event(session, "order.shipped", {"order_id": "x"})
    order_id = await world.place_order(shop_ctx)

    await eventually(lambda: world.entries(ledger_ctx))
    await eventually(lambda: _zero(world.unpublished(shop_ctx)))
    assert [c.name for c in calls] == ["order.placed"]
    assert calls[0].payload["order_id"] == str(order_id)


async def test_an_event_being_retried_still_comes_before_the_next_one_of_its_order(world):
    shop, ledger = world.name("shop"), world.name("ledger")
    failures_left = {"first": 2}
    handlers = EventHandlers(ledger)

    @handlers.on("order.placed")
    async def book(event, session, ctx):
        if event.payload["seq"] == 0 and failures_left["first"] > 0:
            failures_left["first"] -= 1
            raise ConnectionError("a hiccup on the first event")
        await session.execute(
            sa.insert(ledger_entries).values(
                event_id=event.id, order_id=event.payload["order_id"], seq=event.payload["seq"]
            )
        )

    ledger_ctx = await world.service(ledger, handlers)
    shop_ctx = await world.service(shop)
    order_id = uuid.uuid4()
    async with shop_ctx.db.sessionmaker() as session, session.begin():
        for seq in range(4):
            record_event(
                session, "order.placed", {"order_id": order_id, "seq": seq}, aggregate_id=order_id
            )

    entries = await eventually(lambda: _count(world.entries(ledger_ctx), 4))
    assert [e.seq for e in entries] == [0, 1, 2, 3]
    assert failures_left["first"] == 0


async def test_a_broadcast_event_reaches_every_listening_process(world):
    heard: dict[str, list[str]] = {"one": [], "two": []}

    def listener(who: str):
        async def notice(event: Event) -> None:
            heard[who].append(event.payload["theater_id"])

        return notice

    ready = [asyncio.Event() for _ in heard]
    tasks = [
        asyncio.create_task(world.bus.broadcast(["theater.updated"], listener(who), flag))
        for who, flag in zip(heard, ready, strict=True)
    ]
    try:
        await asyncio.wait_for(asyncio.gather(*(flag.wait() for flag in ready)), 10)
        names = ["theater.updated", "theater.opened", "theater.updated"]
        await world.bus.publish(
            [
                Event(
                    id=uuid.uuid4(),
                    name=name,
                    source="movie",
                    occurred_at=dt.datetime.now(dt.UTC),
                    correlation_id=None,
                    payload={"theater_id": str(i)},
                )
                for i, name in enumerate(names)
            ]
        )
        await eventually(lambda: len(heard["one"]) == 2 and len(heard["two"]) == 2)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    assert heard == {"one": ["0", "2"], "two": ["0", "2"]}
