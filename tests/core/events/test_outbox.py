"""What a producer can and cannot put in the outbox, and how the outbox is kept small."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid

import pytest
import sqlalchemy as sa

from boxoffice.core.db import utcnow
from boxoffice.core.events import InboxEvent, OutboxEvent, record_event
from boxoffice.core.events.relay import Relay
from tests.core.events.conftest import eventually
from tests.core.events.test_contract import _zero, ledger_handlers


@pytest.mark.parametrize("adapter", ["local"])
@pytest.mark.parametrize(
    "name", ["BookingCreated", "booking", "booking.Created", "booking created", ".created", ""]
)
async def test_an_event_name_must_be_a_dotted_lower_case_fact(world, name):
    shop_ctx = await world.service(world.name("shop"), relay=False)
    async with shop_ctx.db.sessionmaker() as session:
        with pytest.raises(ValueError, match="dotted"):
            record_event(session, name, {})
        assert not session.new


async def test_payload_values_become_plain_json_and_amounts_stay_exact(world):
    shop = world.name("shop")
    shop_ctx = await world.service(shop, relay=False)
    booking_id = uuid.uuid4()
    async with shop_ctx.db.sessionmaker() as session, session.begin():
        record_event(
            session,
            "booking.created",
            {
                "booking_id": booking_id,
                "total_price": decimal.Decimal("240000.00"),
                "show_date": dt.date(2026, 12, 24),
                "seats": ({"seat_row": "A"},),
            },
        )
    async with shop_ctx.db.sessionmaker() as session:
        row = await session.scalar(sa.select(OutboxEvent))
    assert row.payload == {
        "booking_id": str(booking_id),
        "total_price": "240000.00",
        "show_date": "2026-12-24",
        "seats": [{"seat_row": "A"}],
    }
    assert row.source == shop  # known from the session's database, registered at start


@pytest.mark.parametrize("adapter", ["local"])
async def test_a_payload_that_is_not_json_is_refused_in_the_producers_transaction(world):
    shop_ctx = await world.service(world.name("shop"), relay=False)
    async with shop_ctx.db.sessionmaker() as session:
        with pytest.raises(TypeError):
            record_event(session, "booking.created", {"when": object()})
        with pytest.raises(TypeError):
            record_event(session, "booking.created", ["not", "a", "dict"])
        assert not session.new


async def test_an_event_recorded_before_its_service_is_known_is_sent_under_the_relays_name(
    world,
):
    shop, ledger = world.name("shop"), world.name("ledger")
    calls = []
    await world.service(ledger, ledger_handlers(ledger, calls))
    # A database nobody registered (as if recorded before the events start hook ran).
    db = await world.database(shop)
    async with db.sessionmaker() as session, session.begin():
        record_event(session, "order.placed", {"order_id": "o-1"})
    relay = Relay(shop, db, world.bus)
    try:
        assert await relay.drain() == 1
        await eventually(lambda: _called(calls))
    finally:
        await db.dispose()
    assert calls[0].source == shop


async def _called(calls):
    return bool(calls)


async def test_pruning_removes_old_published_and_handled_events_only(world):
    shop = world.name("shop")
    shop_ctx = await world.service(shop, relay=False)
    async with shop_ctx.db.sessionmaker() as session, session.begin():
        for _ in range(3):
            record_event(session, "order.placed", {})
    relay = Relay(shop, shop_ctx.db, world.bus, retention=dt.timedelta(hours=1))
    assert await relay.drain() == 3
    async with shop_ctx.db.sessionmaker() as session, session.begin():
        record_event(session, "order.placed", {"still": "waiting"})
        old = utcnow() - dt.timedelta(hours=2)
        first = await session.scalar(sa.select(sa.func.min(OutboxEvent.position)))
        await session.execute(
            sa.update(OutboxEvent).where(OutboxEvent.position == first).values(published_at=old)
        )
        session.add_all(
            [
                InboxEvent(event_id=uuid.uuid4(), name="a.b", source="x", processed_at=old),
                InboxEvent(event_id=uuid.uuid4(), name="a.b", source="x", processed_at=utcnow()),
            ]
        )

    assert await relay.prune() == 2

    async with shop_ctx.db.sessionmaker() as session:
        outbox = (await session.scalars(sa.select(OutboxEvent))).all()
        inbox = (await session.scalars(sa.select(InboxEvent))).all()
    assert len(outbox) == 3  # two recent published ones and the unpublished one
    assert sum(1 for row in outbox if row.published_at is None) == 1
    assert len(inbox) == 1


async def test_the_outbox_lag_is_the_age_of_the_oldest_unpublished_event(world):
    shop = world.name("shop")
    shop_ctx = await world.service(shop, relay=False)
    relay = Relay(shop, shop_ctx.db, world.bus)
    assert await relay.lag_seconds() == 0
    async with shop_ctx.db.sessionmaker() as session, session.begin():
        record_event(session, "order.placed", {})
        await session.flush()
        await session.execute(
            sa.update(OutboxEvent).values(occurred_at=utcnow() - dt.timedelta(minutes=5))
        )
    assert 299 < await relay.lag_seconds() < 600
    await relay.drain()
    await eventually(lambda: _zero(world.unpublished(shop_ctx)))
    assert await relay.lag_seconds() == 0
