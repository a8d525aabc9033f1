"""The in-process broker keeps what RabbitMQ would keep across a restart of the process."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import uuid

from boxoffice.core.events import Event, Outcome
from boxoffice.core.events.local import LocalBus
from tests.core.events.conftest import eventually


def _event() -> Event:
    return Event(
        id=uuid.uuid4(),
        name="booking.created",
        source="booking",
        occurred_at=dt.datetime.now(dt.UTC),
        correlation_id=None,
        payload={"booking_id": "b-1"},
    )


async def test_a_delivery_cut_off_by_a_crash_is_redelivered_after_restart(tmp_path):
    path = tmp_path / "events_bus.sqlite3"
    event = _event()
    before_crash = LocalBus(path)
    started = asyncio.Event()

    async def hangs(event, earlier):
        started.set()
        await asyncio.Event().wait()  # the process dies while this runs

    await before_crash.declare("movie", ["booking.created"])
    await before_crash.publish([event])
    consumer = asyncio.create_task(before_crash.consume("movie", ["booking.created"], hangs))
    await asyncio.wait_for(started.wait(), 20)
    consumer.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await consumer
    await before_crash.aclose()

    after_restart = LocalBus(path)
    seen: list[tuple[uuid.UUID, int]] = []

    async def handles(event, earlier):
        seen.append((event.id, earlier))
        return Outcome("processed", earlier + 1)

    consumer = asyncio.create_task(after_restart.consume("movie", ["booking.created"], handles))
    try:
        await eventually(lambda: _nonempty(seen))
    finally:
        consumer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await consumer
        await after_restart.aclose()
    assert seen == [(event.id, 1)]  # delivered again, and known to be a second delivery


async def test_bindings_survive_a_restart_so_events_published_before_the_consumer_starts_wait(
    tmp_path,
):
    path = tmp_path / "events_bus.sqlite3"
    first_run = LocalBus(path)
    await first_run.declare("notification", ["booking.created"])
    await first_run.aclose()

    second_run = LocalBus(path)
    event = _event()
    await second_run.publish([event])  # the relay may start before the consumer declares
    seen: list[uuid.UUID] = []

    async def handles(event, earlier):
        seen.append(event.id)
        return Outcome("processed", 1)

    consumer = asyncio.create_task(second_run.consume("notification", ["booking.created"], handles))
    try:
        await eventually(lambda: _nonempty(seen))
    finally:
        consumer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await consumer
        await second_run.aclose()
    assert seen == [event.id]


async def _nonempty(items):
    return bool(items)
