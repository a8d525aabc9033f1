"""The booking ⇄ payment saga when things go wrong: late payments, a broker outage, crashes
mid-payment and lost events; after each, the money invariants hold."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa

from boxoffice.core.db import utcnow
from boxoffice.core.events.local import LocalBus
from boxoffice.core.events.rabbitmq import RabbitBus
from boxoffice.core.events.wiring import make_relay
from boxoffice.payment.sweeper import sweep_once
from tests.conftest import bearer
from tests.payment.conftest import eventually

# One system per module and backend (see conftest.py): its event loop is the module's.
pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_a_payment_that_lands_after_its_booking_expired_is_refunded_automatically(
    open_cinema,
):
    services = ("movie", "booking", "payment", "notification")
    # 3 s, not 1: on a busy machine the payment request can take over a second to reach the
    # gateway, and a booking already expired is refused before any charge (nothing to test).
    async with open_cinema(
        services, booking_expiry_seconds=3, payment_gateway_timeout_seconds=20
    ) as cinema:
        alice = cinema.customer()
        booking = await cinema.book(alice)
        # The bank takes its time: the booking expires while the charge is at the gateway.
        cinema.gateway.pause()
        paying = asyncio.create_task(cinema.pay(alice, booking))
        await eventually(lambda: _charge_started(cinema))
        await cinema.booking_reaches(alice, booking["id"], "expired", "unpaid", timeout=10)
        cinema.gateway.resume()
        response = await paying
        assert response.status_code == 201, response.text

        async def refunded():
            payment = await cinema.payment(alice, response.json()["id"])
            return payment if payment["status"] == "refunded" else None

        payment = await eventually(refunded)
        assert payment["refund_reason"] == "booking_expired"
        assert payment["id"] in cinema.gateway.refunds
        final = await cinema.booking(alice, booking["id"])
        assert final["status"] == "expired"
        states = await cinema.seat_states()
        assert all(states[seat] == "available" for seat in booking["seat_ids"])

        async def told():
            response = await cinema.api.get(
                "/api/notifications/notifications", headers=bearer(alice)
            )
            subjects = [n.get("subject", "") for n in response.json()]
            return [s for s in subjects if "refund" in s.lower()]

        assert await eventually(told)
        await cinema.check_money()


async def _charge_started(cinema):
    return cinema.charge_calls == 1


async def test_with_the_broker_down_payment_commits_and_the_booking_is_confirmed_when_it_returns(
    cinema, monkeypatch
):
    alice = cinema.customer()
    booking = await cinema.book(alice)
    bus = cinema.context("payment").runtime.bus
    attempts = _watch_publishing(monkeypatch, bus, "payment.completed")
    restore = await _break(bus, cinema.settings)

    response = await cinema.pay(alice, booking)

    assert response.status_code == 201, response.text
    assert response.json()["status"] == "completed"
    # The marker: the relay's own try to publish the payment, through the broken broker. The
    # event reaches booking by that path only; once the try has failed (and none went out),
    # the booking can change only after a later try, so reading it now is no race with a
    # delivery in flight, as reading it after a fixed sleep was.
    await eventually(lambda: "failed" in attempts)
    assert "sent" not in attempts
    waiting = await cinema.booking(alice, booking["id"])
    assert (waiting["status"], waiting["payment_status"]) == ("pending", "unpaid")
    assert await _unpublished(cinema, "payment") >= 1

    restore()

    await cinema.booking_reaches(alice, booking["id"], "confirmed", "paid", timeout=60)
    await cinema.check_money()


def _watch_publishing(monkeypatch, bus, name):
    """How each of the bus's publishes carrying event `name` ended: "sent" or "failed"."""
    outcomes: list[str] = []
    publish = bus.publish

    async def watched(events):
        carries = any(event.name == name for event in events)
        try:
            await publish(events)
        except BaseException:
            if carries:
                outcomes.append("failed")
            raise
        if carries:
            outcomes.append("sent")

    monkeypatch.setattr(bus, "publish", watched)
    return outcomes


async def _break(bus, settings):
    """A broker outage for this system only; the machine's shared RabbitMQ keeps running."""
    if isinstance(bus, RabbitBus):
        url = bus.url
        bus.url = "amqp://guest:guest@127.0.0.1:1/"  # nothing listens there
        connection = bus._connection
        await bus._drop_publisher()
        if connection is not None:
            await connection.close()

        def restore():
            bus.url = url

        return restore
    assert isinstance(bus, LocalBus)
    # The in-process broker's file cannot be opened (a path under a file) until restored.
    stash = (bus.path, bus._db)
    blocker = settings.data_dir / "not-a-directory"
    blocker.write_text("x")
    bus.path, bus._db = blocker / "bus.sqlite3", None

    def restore_local():
        bus.path, bus._db = stash

    return restore_local


async def _unpublished(cinema, service):
    async with cinema.context(service).db.sessionmaker() as session:
        count = await session.scalar(
            sa.text("SELECT count(*) FROM event_outbox WHERE published_at IS NULL")
        )
    return int(count or 0)


async def _abandon_a_payment_mid_charge(cinema, token, booking):
    """The request dies (process killed, client gone) while the charge is at the gateway."""
    cinema.gateway.pause()
    paying = asyncio.create_task(cinema.pay(token, booking, key="crash"))
    await eventually(lambda: _charge_started(cinema))
    paying.cancel()
    await asyncio.gather(paying, return_exceptions=True)
    cinema.gateway.resume()
    [payment] = await cinema.payments_of(token, booking["id"])
    assert payment["status"] == "pending"
    return payment


async def test_a_payment_left_pending_by_a_crash_is_completed_if_the_gateway_charged_it(cinema):
    alice = cinema.customer()
    booking = await cinema.book(alice)
    payment = await _abandon_a_payment_mid_charge(cinema, alice, booking)
    # The charge went through at the bank just before the process died.
    await cinema.gateway.charge(
        reference=payment["id"],
        amount=Decimal(str(payment["amount"])),
        payment_method="credit_card",
        token=None,
    )

    report = await sweep_once(cinema.context("payment"), now=utcnow() + dt.timedelta(minutes=5))

    assert report.completed == [payment["id"]]
    assert (await cinema.payment(alice, payment["id"]))["status"] == "completed"
    await cinema.booking_reaches(alice, booking["id"], "confirmed", "paid")
    # The client retrying its request now gets the finished payment.
    retry = await cinema.pay(alice, booking, key="crash")
    assert (retry.status_code, retry.json()["id"]) == (201, payment["id"])
    await cinema.check_money()


async def test_a_payment_left_pending_by_a_crash_fails_if_nothing_was_charged(cinema):
    alice = cinema.customer()
    booking = await cinema.book(alice)
    payment = await _abandon_a_payment_mid_charge(cinema, alice, booking)
    cinema.gateway.charges.pop(payment["id"], None)  # the bank never saw it

    early = await sweep_once(cinema.context("payment"))
    later = await sweep_once(cinema.context("payment"), now=utcnow() + dt.timedelta(minutes=5))

    assert early.failed == []  # a live request could still be finishing it
    assert later.failed == [payment["id"]]
    failed = await cinema.payment(alice, payment["id"])
    assert (failed["status"], failed["failure_reason"]) == ("failed", "abandoned")
    # The booking can still be paid under a new key.
    assert (await cinema.pay(alice, booking)).status_code == 201
    await cinema.booking_reaches(alice, booking["id"], "confirmed", "paid")
    await cinema.check_money()


async def test_reconciliation_announces_again_a_completed_payment_whose_event_was_lost(cinema):
    alice = cinema.customer()
    booking = await cinema.book(alice)
    payment_ctx = cinema.context("payment")
    relay = payment_ctx.state["tasks"][0]  # the outbox relay: the first background loop
    relay.cancel()
    await asyncio.gather(relay, return_exceptions=True)
    paid = await cinema.pay(alice, booking)
    assert paid.status_code == 201
    async with payment_ctx.db.sessionmaker() as session, session.begin():
        await session.execute(sa.text("DELETE FROM event_outbox"))  # the event is lost
    payment_ctx.state["tasks"][0] = asyncio.create_task(_relay(payment_ctx))
    admin = bearer(cinema.admin)

    dry = await cinema.api.post("/api/payments/reconcile", params={"dry_run": True}, headers=admin)

    assert dry.status_code == 200, dry.text
    [finding] = dry.json()["findings"]
    assert finding["payment_id"] == paid.json()["id"]
    assert (finding["problem"], finding["fixed"]) == ("completion_not_applied", False)
    still = await cinema.booking(alice, booking["id"])
    assert still["status"] == "pending"

    fixed = await cinema.api.post("/api/payments/reconcile", headers=admin)

    assert fixed.status_code == 200
    assert [f["fixed"] for f in fixed.json()["findings"]] == [True]
    await cinema.booking_reaches(alice, booking["id"], "confirmed", "paid")
    again = await cinema.api.post("/api/payments/reconcile", headers=admin)
    assert again.json()["findings"] == []
    await cinema.check_money()


async def _relay(ctx):
    await make_relay(ctx).run()
