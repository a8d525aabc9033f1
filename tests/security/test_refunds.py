"""A used ticket is final (SPEC 4.9, docs/refunds.md): no money back once the ticket was
checked in or its show started; the saga's automatic refunds still happen; a refund racing a
check-in never leaves a ticket both used and refunded."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
import zoneinfo

import pytest
import sqlalchemy as sa

from boxoffice.booking.models import Booking, BookingSeat
from boxoffice.booking.service import BookingService
from boxoffice.payment.models import Payment
from tests.conftest import bearer
from tests.payment.conftest import eventually, mint

# One system per module and backend (see tests/payment/conftest.py): its loop is the module's.
pytestmark = pytest.mark.asyncio(loop_scope="module")

CHECK_IN = "/api/bookings/bookings/check-in"


async def paid_booking(cinema, token, seats=1):
    booking = await cinema.book(token, seats=seats)
    response = await cinema.pay(token, booking)
    assert response.status_code == 201, response.text
    await cinema.booking_reaches(token, booking["id"], "confirmed", "paid")
    return booking, response.json()


async def refund(cinema, token, payment_id):
    return await cinema.api.post(
        f"/api/payments/payments/{payment_id}/refund", headers=bearer(token)
    )


async def check_in(cinema, booking):
    staff = mint(cinema.settings, "staff")
    return await cinema.api.post(
        CHECK_IN, headers=bearer(staff), json={"booking_code": booking["booking_code"]}
    )


async def start_the_show(cinema, booking, ago=dt.timedelta(minutes=1)):
    """Move the booking's show (as booking keeps it) to have started `ago`, theater time."""
    ctx = cinema.context("booking")
    zone = zoneinfo.ZoneInfo(cinema.settings.theater_timezone)
    local = (dt.datetime.now(zone) - ago).replace(tzinfo=None, microsecond=0)
    async with ctx.db.transaction() as session:
        await session.execute(
            sa.update(Booking)
            .where(Booking.id == uuid.UUID(booking["id"]))
            .values(
                show_date=local.date(),
                show_time=local.time(),
                show_starts_at=local.replace(tzinfo=zone).astimezone(dt.UTC),
            )
        )


async def booking_row(cinema, booking_id):
    async with cinema.context("booking").db.sessionmaker() as session:
        row = await session.get(Booking, uuid.UUID(str(booking_id)))
        seats = (
            await session.execute(
                sa.select(BookingSeat.status).where(
                    BookingSeat.booking_id == uuid.UUID(str(booking_id))
                )
            )
        ).scalars()
        return row, list(seats)


async def payment_row(cinema, payment_id):
    async with cinema.context("payment").db.sessionmaker() as session:
        return await session.get(Payment, uuid.UUID(str(payment_id)))


async def assert_still_used_and_sold(cinema, booking):
    row, seats = await booking_row(cinema, booking["id"])
    assert (row.status, row.payment_status) == ("confirmed", "paid")
    assert row.checked_in_at is not None
    assert seats and set(seats) == {"confirmed"}
    states = await cinema.seat_states()
    assert all(states[seat] == "booked" for seat in booking["seat_ids"])


async def test_a_refund_after_check_in_is_refused_and_the_ticket_stays_used(cinema):
    alice = cinema.customer()
    booking, payment = await paid_booking(cinema, alice)
    assert (await check_in(cinema, booking)).status_code == 200

    response = await refund(cinema, alice, payment["id"])

    assert response.status_code == 409, response.text
    body = response.json()
    assert body["error_type"] == "RefundRefused"
    assert body["status_code"] == 409
    assert "checked in" in body["detail"]
    assert cinema.refund_calls == 0
    assert (await payment_row(cinema, payment["id"])).status == "completed"
    await assert_still_used_and_sold(cinema, booking)
    await cinema.check_money()


async def test_a_refund_after_the_show_started_is_refused(cinema):
    alice = cinema.customer()
    booking, payment = await paid_booking(cinema, alice)
    await start_the_show(cinema, booking)

    response = await refund(cinema, alice, payment["id"])

    assert response.status_code == 409, response.text
    assert response.json()["error_type"] == "RefundRefused"
    assert "show started" in response.json()["detail"]
    assert cinema.refund_calls == 0
    row, seats = await booking_row(cinema, booking["id"])
    assert (row.status, row.payment_status) == ("confirmed", "paid")
    assert set(seats) == {"confirmed"}
    # The same rule answers a cancel: it would refund too.
    cancel = await cinema.api.post(
        f"/api/bookings/bookings/{booking['id']}/cancel", headers=bearer(alice)
    )
    assert cancel.status_code == 409, cancel.text
    assert "show started" in cancel.json()["detail"]
    # Staff can still let the customer in.
    assert (await check_in(cinema, booking)).status_code == 200
    await cinema.check_money()


async def test_an_admin_refund_follows_the_same_rule(cinema):
    alice = cinema.customer()
    booking, payment = await paid_booking(cinema, alice)
    assert (await check_in(cinema, booking)).status_code == 200

    response = await refund(cinema, cinema.admin, payment["id"])

    assert response.status_code == 409, response.text
    assert response.json()["error_type"] == "RefundRefused"
    await assert_still_used_and_sold(cinema, booking)


async def test_a_refund_before_the_show_still_works_and_the_ticket_no_longer_gets_in(cinema):
    alice = cinema.customer()
    booking, payment = await paid_booking(cinema, alice)
    await start_the_show(cinema, booking, ago=-dt.timedelta(minutes=5))  # starts in 5 minutes

    response = await refund(cinema, alice, payment["id"])

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "refunded"
    await cinema.booking_reaches(alice, booking["id"], "cancelled", "refunded")
    late = await check_in(cinema, booking)
    assert late.status_code == 409
    assert cinema.refund_calls == 1
    await cinema.check_money()


async def test_a_refund_event_for_a_checked_in_booking_leaves_it_checked_in_and_sold(
    open_cinema,
):
    """Should money ever go back for a used ticket (from outside the rule), booking records
    it but does not cancel the booking or free its seats. (A system of its own: the money
    invariants rightly call this state a violation.)"""
    async with open_cinema() as cinema:
        alice = cinema.customer()
        booking, payment = await paid_booking(cinema, alice)
        assert (await check_in(cinema, booking)).status_code == 200
        ctx = cinema.context("booking")

        async with ctx.db.transaction() as session:
            await BookingService.from_context(ctx, session).payment_refunded(
                uuid.UUID(booking["id"]), uuid.UUID(payment["id"])
            )

        row, seats = await booking_row(cinema, booking["id"])
        assert (row.status, row.payment_status) == ("confirmed", "refunded")
        assert row.checked_in_at is not None and row.cancelled_at is None
        assert set(seats) == {"confirmed"}
        states = await cinema.seat_states()
        assert all(states[seat] == "booked" for seat in booking["seat_ids"])


async def test_a_late_charge_is_still_refunded_automatically_after_the_show_started(open_cinema):
    async with open_cinema(booking_expiry_seconds=1, payment_gateway_timeout_seconds=20) as cinema:
        alice = cinema.customer()
        booking = await cinema.book(alice)
        cinema.gateway.pause()
        paying = asyncio.create_task(cinema.pay(alice, booking))
        await eventually(lambda: cinema.gateway.charge_calls == 1)
        await cinema.booking_reaches(alice, booking["id"], "expired", "unpaid", timeout=10)
        await start_the_show(cinema, booking)
        cinema.gateway.resume()
        response = await paying
        assert response.status_code == 201, response.text

        async def refunded():
            payment = await cinema.payment(alice, response.json()["id"])
            return payment if payment["status"] == "refunded" else None

        payment = await eventually(refunded)
        assert payment["refund_reason"] == "booking_expired"
        assert payment["id"] in cinema.gateway.refunds
        await cinema.check_money()


async def test_refunds_racing_a_check_in_never_leave_a_used_ticket_refunded(cinema):
    alice = cinema.customer()
    pairs = [await paid_booking(cinema, alice) for _ in range(6)]

    async def race(booking, payment):
        jobs = [refund(cinema, alice, payment["id"]) for _ in range(6)]
        jobs.insert(len(jobs) // 2, check_in(cinema, booking))
        answers = await asyncio.gather(*jobs)
        return answers.pop(len(jobs) // 2), answers

    results = await asyncio.gather(*(race(b, p) for b, p in pairs))

    for (booking, payment), (door, refunds) in zip(pairs, results, strict=True):
        codes = sorted(r.status_code for r in refunds)
        assert door.status_code in (200, 409), door.text
        assert set(codes) <= {200, 409}, [r.text for r in refunds]
        refunded = codes.count(200)
        # Exactly one side wins: the door, or one refund.
        assert (door.status_code == 200) != (refunded == 1), (door.text, codes)
        assert refunded <= 1
        if door.status_code == 200:
            await assert_still_used_and_sold(cinema, booking)
            assert (await payment_row(cinema, payment["id"])).status == "completed"
        else:
            await cinema.booking_reaches(alice, booking["id"], "cancelled", "refunded")
            row, _ = await booking_row(cinema, booking["id"])
            assert row.checked_in_at is None
            assert (await payment_row(cinema, payment["id"])).status == "refunded"
    await cinema.check_money()
