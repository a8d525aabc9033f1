"""Refunds: the owner gets the money back once; the booking is cancelled and its seats freed."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import bearer
from tests.payment.conftest import eventually

# One system per module and backend (see conftest.py): its event loop is the module's.
pytestmark = pytest.mark.asyncio(loop_scope="module")


async def paid_booking(cinema, token, seats=2):
    booking = await cinema.book(token, seats=seats)
    response = await cinema.pay(token, booking)
    assert response.status_code == 201, response.text
    await cinema.booking_reaches(token, booking["id"], "confirmed", "paid")
    return booking, response.json()


async def refund(cinema, token, payment_id):
    return await cinema.api.post(
        f"/api/payments/payments/{payment_id}/refund", headers=bearer(token)
    )


async def test_a_refund_cancels_the_booking_and_frees_its_seats(cinema):
    alice = cinema.customer()
    booking, payment = await paid_booking(cinema, alice)
    assert {cinema.seat_ids[0], cinema.seat_ids[1]} <= {
        seat for seat, state in (await cinema.seat_states()).items() if state == "booked"
    }

    response = await refund(cinema, alice, payment["id"])

    assert response.status_code == 200, response.text
    refunded = response.json()
    assert refunded["status"] == "refunded"
    assert refunded["refund_reason"] == "requested"
    assert refunded["refunded_at"] is not None
    await cinema.booking_reaches(alice, booking["id"], "cancelled", "refunded")

    async def seats_free():
        states = await cinema.seat_states()
        return all(states[seat] == "available" for seat in booking["seat_ids"])

    await eventually(seats_free)
    assert payment["id"] in cinema.gateway.refunds
    await cinema.check_money()


async def test_refunding_twice_is_409_and_the_money_goes_back_once(cinema):
    alice = cinema.customer()
    booking, payment = await paid_booking(cinema, alice)

    at_once = await asyncio.gather(*(refund(cinema, alice, payment["id"]) for _ in range(5)))
    later = await refund(cinema, alice, payment["id"])

    assert sorted(r.status_code for r in at_once) == [200, 409, 409, 409, 409]
    assert later.status_code == 409
    assert later.json()["error_type"] == "PaymentAlreadyRefunded"
    assert payment["id"] in cinema.gateway.refunds
    assert cinema.refund_calls == 1
    await cinema.booking_reaches(alice, booking["id"], "cancelled", "refunded")
    await cinema.check_money()


async def test_only_a_completed_payment_can_be_refunded(cinema):
    alice = cinema.customer()
    booking = await cinema.book(alice)
    declined = await cinema.pay(alice, booking, payment_token="tok_decline")
    assert declined.status_code == 402

    response = await refund(cinema, alice, declined.json()["payment_id"])

    assert response.status_code == 409
    assert response.json()["error_type"] == "PaymentNotRefundable"
    assert cinema.refund_calls == 0


async def test_payments_are_seen_and_refunded_only_by_their_owner_or_an_admin(cinema):
    alice, mallory = cinema.customer(), cinema.customer()
    booking, payment = await paid_booking(cinema, alice)

    peek = await cinema.api.get(f"/api/payments/payments/{payment['id']}", headers=bearer(mallory))
    steal = await refund(cinema, mallory, payment["id"])
    mallorys_list = await cinema.api.get("/api/payments/payments", headers=bearer(mallory))
    admin_view = await cinema.api.get(
        f"/api/payments/payments/{payment['id']}", headers=bearer(cinema.admin)
    )
    admin_list = await cinema.api.get(
        "/api/payments/payments", params={"limit": 200}, headers=bearer(cinema.admin)
    )

    assert peek.status_code == 404
    assert steal.status_code == 404
    assert mallorys_list.json() == []
    assert admin_view.status_code == 200
    assert payment["id"] in [p["id"] for p in admin_list.json()]
    assert cinema.refund_calls == 0

    by_admin = await refund(cinema, cinema.admin, payment["id"])

    assert by_admin.status_code == 200
    await cinema.booking_reaches(alice, booking["id"], "cancelled", "refunded")


async def test_cancelling_a_paid_booking_refunds_it(cinema):
    alice = cinema.customer()
    booking, payment = await paid_booking(cinema, alice)

    cancelled = await cinema.api.post(
        f"/api/bookings/bookings/{booking['id']}/cancel", headers=bearer(alice)
    )

    assert cancelled.status_code == 200, cancelled.text
    await cinema.booking_reaches(alice, booking["id"], "cancelled", "refunded")
    refunded = await cinema.payment(alice, payment["id"])
    assert (refunded["status"], refunded["refund_reason"]) == ("refunded", "booking_cancelled")
    assert payment["id"] in cinema.gateway.refunds
    assert cinema.refund_calls == 1
    await cinema.check_money()


async def test_a_users_history_lists_their_payments_newest_first_in_pages(cinema):
    alice = cinema.customer()
    first, second = await cinema.book(alice, seats=1), await cinema.book(alice, seats=1)
    paid_first = (await cinema.pay(alice, first)).json()
    paid_second = (await cinema.pay(alice, second)).json()

    everything = await cinema.api.get("/api/payments/payments", headers=bearer(alice))
    page = await cinema.api.get(
        "/api/payments/payments", params={"limit": 1, "offset": 1}, headers=bearer(alice)
    )

    assert [p["id"] for p in everything.json()] == [paid_second["id"], paid_first["id"]]
    assert [p["id"] for p in page.json()] == [paid_first["id"]]
