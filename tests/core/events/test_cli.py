"""`boxoffice events dead-letters` and `boxoffice events replay`, against the configured mode:
the data dir's in-process broker (embedded) or RabbitMQ (distributed)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import uuid

import pytest
from typer.testing import CliRunner

from boxoffice.cli import app
from boxoffice.core.events import Event, Outcome
from boxoffice.core.events.rabbitmq import RabbitBus
from boxoffice.core.runtime import event_bus

SERVICE = "notification"


async def _bury_an_event(settings, error: str) -> uuid.UUID:
    """A notification consumer that gives up on the first event it gets."""
    bus = event_bus(settings)
    event = Event(
        id=uuid.uuid4(),
        name="booking.confirmed",
        source="booking",
        occurred_at=dt.datetime.now(dt.UTC),
        correlation_id="cli-test",
        payload={"booking_id": "b-1"},
    )

    async def give_up(event, earlier):
        return Outcome("dead", 5, error)

    try:
        await bus.declare(SERVICE, ["booking.confirmed"])
        await bus.publish([event])
        consumer = asyncio.create_task(bus.consume(SERVICE, ["booking.confirmed"], give_up))
        try:
            for _ in range(400):
                if await bus.dead_letters(SERVICE):
                    break
                await asyncio.sleep(0.05)
        finally:
            consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await consumer
    finally:
        await bus.aclose()
    return event.id


async def _delete_topology(settings) -> None:
    bus = event_bus(settings)
    if isinstance(bus, RabbitBus):
        bus.declared.add(SERVICE)
        bus._exchange_declared = True
        await bus.delete_topology()
    await bus.aclose()


@pytest.fixture(params=["embedded", "distributed"])
def configured(request, make_settings, monkeypatch):
    """Settings for one mode, also put in the environment the CLI reads."""
    backend = "postgres" if request.param == "distributed" else "sqlite"
    settings = make_settings(backend)
    monkeypatch.setenv("BOXOFFICE_MODE", settings.mode)
    monkeypatch.setenv("BOXOFFICE_DB_PREFIX", settings.db_prefix)
    monkeypatch.setenv("BOXOFFICE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("RABBITMQ_URL", settings.rabbitmq_url)
    yield settings
    asyncio.run(_delete_topology(settings))


def test_an_operator_lists_a_dead_letter_replays_it_and_it_is_gone(configured):
    event_id = asyncio.run(_bury_an_event(configured, "SMTPServerDisconnected: mail is down"))
    runner = CliRunner()

    listed = runner.invoke(app, ["events", "dead-letters", "--service", SERVICE])
    assert listed.exit_code == 0, listed.output
    assert str(event_id) in listed.output
    assert "booking.confirmed" in listed.output
    assert "mail is down" in listed.output

    replayed = runner.invoke(app, ["events", "replay", str(event_id)])
    assert replayed.exit_code == 0, replayed.output
    assert f"Replayed 1 dead letter(s) of event {event_id}" in replayed.output

    after = runner.invoke(app, ["events", "dead-letters"])
    assert after.exit_code == 0, after.output
    assert "No dead letters." in after.output


def test_replaying_an_unknown_event_says_so_and_fails(configured):
    result = CliRunner().invoke(app, ["events", "replay", str(uuid.uuid4())])
    assert result.exit_code == 1
    assert "no dead letter of event" in result.output


def test_bad_arguments_are_refused_with_a_clear_message(make_settings, monkeypatch):
    monkeypatch.setenv("BOXOFFICE_DATA_DIR", str(make_settings().data_dir))
    runner = CliRunner()
    not_an_id = runner.invoke(app, ["events", "replay", "not-an-id"])
    assert not_an_id.exit_code == 2
    unknown = runner.invoke(app, ["events", "dead-letters", "--service", "popcorn"])
    assert unknown.exit_code == 1
    assert "unknown service 'popcorn'" in unknown.output


def test_an_unreachable_broker_is_reported_not_a_traceback(make_settings, monkeypatch):
    monkeypatch.setenv("BOXOFFICE_MODE", "distributed")
    monkeypatch.setenv("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:1/")
    result = CliRunner().invoke(app, ["events", "dead-letters"])
    assert result.exit_code == 1
    assert "cannot reach RabbitMQ" in result.output
