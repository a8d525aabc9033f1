"""Paying a booking: exactly once, whatever the client (or twenty of its retries) sends."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import pytest

from tests.conftest import bearer
from tests.payment.conftest import SEAT_PRICE, eventually

# One system per module and backend (see conftest.py): its event loop is the module's.
pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_paying_a_pending_booking_completes_the_payment_and_confirms_the_booking(cinema):
    alice = cinema.customer()
    booking = await cinema.book(alice, seats=2)

    response = await cinema.pay(alice, booking, key="alice-pays-once")

    assert response.status_code == 201, response.text
    payment = response.json()
    assert payment["status"] == "completed"
    assert payment["booking_id"] == booking["id"]
    assert Decimal(str(payment["amount"])) == 2 * SEAT_PRICE
    assert payment["transaction_id"].startswith("TXN_")
    assert payment["payment_date"] is not None
    confirmed = await cinema.booking_reaches(alice, booking["id"], "confirmed", "paid")
    assert confirmed["id"] == booking["id"]
    assert cinema.charge_calls == 1
    await cinema.check_money()


async def test_twenty_identical_requests_at_once_make_one_payment_and_one_charge(cinema):
    alice = cinema.customer()
    booking = await cinema.book(alice)

    responses = await asyncio.gather(
        *(cinema.pay(alice, booking, key="double-click") for _ in range(20))
    )

    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {201, 409}, statuses
    succeeded = [r.json() for r in responses if r.status_code == 201]
    assert succeeded, statuses
    assert len({p["id"] for p in succeeded}) == 1
    for refused in (r for r in responses if r.status_code == 409):
        assert refused.json()["error_type"] == "PaymentInProgress"
        assert refused.headers["Retry-After"] == "1"
    assert cinema.charge_calls == 1
    payments = await cinema.payments_of(alice, booking["id"])
    assert [p["status"] for p in payments] == ["completed"]
    # Retrying later under the same key still answers with that one payment.
    again = await cinema.pay(alice, booking, key="double-click")
    assert again.status_code == 201
    assert again.json()["id"] == succeeded[0]["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    await cinema.booking_reaches(alice, booking["id"], "confirmed", "paid")
    await cinema.check_money()


async def test_a_retry_while_the_first_request_is_at_the_gateway_gets_409_with_retry_after(
    open_cinema,
):
    # A gateway timeout far beyond the retry's own short wait for the first request.
    async with open_cinema(payment_gateway_timeout_seconds=30) as cinema:
        alice = cinema.customer()
        booking = await cinema.book(alice)
        cinema.gateway.pause()
        first = asyncio.create_task(cinema.pay(alice, booking, key="impatient"))
        try:
            await eventually(lambda: _charge_started(cinema))

            retry = await cinema.pay(alice, booking, key="impatient")

            assert retry.status_code == 409
            assert retry.json()["error_type"] == "PaymentInProgress"
            assert retry.headers["Retry-After"] == "1"
        finally:
            cinema.gateway.resume()
        done = await first
        assert done.status_code == 201
        later = await cinema.pay(alice, booking, key="impatient")
        assert (later.status_code, later.json()["id"]) == (201, done.json()["id"])
        assert retry.json()["payment_id"] == done.json()["id"]
        assert cinema.charge_calls == 1


async def _charge_started(cinema):
    return cinema.charge_calls == 1


async def test_ten_different_keys_at_once_on_one_booking_charge_it_once(cinema):
    alice = cinema.customer()
    booking = await cinema.book(alice)

    responses = await asyncio.gather(*(cinema.pay(alice, booking, key=f"k{i}") for i in range(10)))

    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 1, statuses
    assert set(statuses) == {201, 409}
    for refused in (r for r in responses if r.status_code == 409):
        assert refused.json()["error_type"] in ("BookingAlreadyPaid", "BookingNotPayable")
    assert cinema.charge_calls == 1
    assert len(await cinema.payments_of(alice, booking["id"])) == 1
    await cinema.booking_reaches(alice, booking["id"], "confirmed", "paid")
    await cinema.check_money()


async def test_the_same_key_with_a_different_body_is_refused_with_422(cinema):
    alice = cinema.customer()
    first, second = await cinema.book(alice), await cinema.book(alice)
    paid = await cinema.pay(alice, first, key="reused")
    assert paid.status_code == 201

    other_booking = await cinema.pay(alice, second, key="reused")
    other_method = await cinema.pay(alice, first, key="reused", payment_method="e_wallet")

    for response in (other_booking, other_method):
        assert response.status_code == 422
        assert response.json()["error_type"] == "IdempotencyKeyReused"
        assert set(response.json()) >= {"detail", "status_code", "error_type"}
    assert cinema.charge_calls == 1
    assert await cinema.payments_of(alice, second["id"]) == []


async def test_a_key_is_scoped_to_its_user(cinema):
    alice, bob = cinema.customer(), cinema.customer()
    alices, bobs = await cinema.book(alice), await cinema.book(bob)

    first = await cinema.pay(alice, alices, key="order-1")
    second = await cinema.pay(bob, bobs, key="order-1")

    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]
    assert cinema.charge_calls == 2


async def test_a_replay_and_a_reused_key_are_decided_by_the_database(cinema):
    alice = cinema.customer()
    booking = await cinema.book(alice)
    first = await cinema.pay(alice, booking, key="answered-by-the-database")

    replay = await cinema.pay(alice, booking, key="answered-by-the-database")
    wrong_body = await cinema.pay(
        alice, booking, key="answered-by-the-database", payment_method="e_wallet"
    )

    assert replay.status_code == 201
    assert replay.json()["id"] == first.json()["id"]
    assert wrong_body.status_code == 422
    assert cinema.charge_calls == 1


async def test_a_wrong_amount_is_refused_with_400_and_charges_nothing(cinema):
    alice = cinema.customer()
    booking = await cinema.book(alice)

    too_little = await cinema.pay(alice, booking, amount=1000.00)
    too_much = await cinema.pay(alice, booking, amount=str(Decimal(booking["total_price"]) + 1))

    for response in (too_little, too_much):
        assert response.status_code == 400, response.text
        assert response.json()["error_type"] == "AmountMismatch"
    assert cinema.charge_calls == 0
    assert await cinema.payments_of(alice, booking["id"]) == []
    still = await cinema.booking(alice, booking["id"])
    assert (still["status"], still["payment_status"]) == ("pending", "unpaid")


async def test_someone_elses_booking_is_not_found(cinema):
    alice, mallory = cinema.customer(), cinema.customer()
    booking = await cinema.book(alice)

    as_mallory = await cinema.pay(mallory, booking)
    as_admin = await cinema.pay(cinema.admin, booking)
    unknown = await cinema.pay(alice, {**booking, "id": str(uuid.uuid4())})

    for response in (as_mallory, as_admin, unknown):
        assert response.status_code == 404, response.text
        assert response.json()["error_type"] == "BookingNotFound"
    assert cinema.charge_calls == 0


async def test_an_already_paid_booking_is_refused_with_409_under_a_new_key(cinema):
    alice = cinema.customer()
    booking = await cinema.book(alice)
    assert (await cinema.pay(alice, booking, key="first")).status_code == 201
    await cinema.booking_reaches(alice, booking["id"], "confirmed", "paid")

    second = await cinema.pay(alice, booking, key="second")

    assert second.status_code == 409
    assert cinema.charge_calls == 1


async def test_a_cancelled_booking_cannot_be_paid(cinema):
    alice = cinema.customer()
    booking = await cinema.book(alice)
    cancelled = await cinema.api.post(
        f"/api/bookings/bookings/{booking['id']}/cancel", headers=bearer(alice)
    )
    assert cancelled.status_code == 200, cancelled.text

    response = await cinema.pay(alice, booking)

    assert response.status_code == 409
    assert response.json()["error_type"] == "BookingNotPayable"
    assert cinema.charge_calls == 0


async def test_an_expired_booking_cannot_be_paid(open_cinema):
    async with open_cinema(booking_expiry_seconds=1) as cinema:
        alice = cinema.customer()
        booking = await cinema.book(alice)
        await cinema.booking_reaches(alice, booking["id"], "expired", "unpaid", timeout=10)

        response = await cinema.pay(alice, booking)

        assert response.status_code == 409
        assert response.json()["error_type"] == "BookingNotPayable"
        assert "expired" in response.json()["detail"]
        assert cinema.charge_calls == 0


async def test_a_declined_card_fails_the_payment_with_402_and_a_new_key_can_pay(cinema):
    alice = cinema.customer()
    booking = await cinema.book(alice)

    declined = await cinema.pay(alice, booking, key="bad-card", payment_token="tok_decline")

    assert declined.status_code == 402
    assert declined.json()["error_type"] == "PaymentDeclined"
    failed = await cinema.payment(alice, declined.json()["payment_id"])
    assert (failed["status"], failed["failure_reason"]) == ("failed", "card_declined")
    replay = await cinema.pay(alice, booking, key="bad-card", payment_token="tok_decline")
    assert replay.status_code == 402
    assert replay.json()["payment_id"] == failed["id"]
    still = await cinema.booking(alice, booking["id"])
    assert (still["status"], still["payment_status"]) == ("pending", "unpaid")

    retried = await cinema.pay(alice, booking, key="good-card", payment_token="tok_visa")

    assert retried.status_code == 201
    await cinema.booking_reaches(alice, booking["id"], "confirmed", "paid")
    await cinema.check_money()


async def test_a_gateway_timeout_answers_504_and_leaves_the_payment_failed_not_pending(cinema):
    alice = cinema.customer()
    booking = await cinema.book(alice)

    response = await cinema.pay(alice, booking, key="slow", payment_token="tok_timeout")

    assert response.status_code == 504
    assert response.json()["error_type"] == "PaymentGatewayTimeout"
    payment = await cinema.payment(alice, response.json()["payment_id"])
    assert (payment["status"], payment["failure_reason"]) == ("failed", "gateway_timeout")
    assert payment["id"] not in cinema.gateway.charges
    still = await cinema.booking(alice, booking["id"])
    assert (still["status"], still["payment_status"]) == ("pending", "unpaid")
    await cinema.check_money()
