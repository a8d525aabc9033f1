"""Fair share (SPEC 4.10, docs/fair-share.md): one customer may hold and keep unpaid only
MAX_UNPAID_SEATS_PER_SHOWTIME seats of a showtime (10) and MAX_UNPAID_SEATS_IN_ALL in all (20),
so nobody can block a screening with bookings they never pay; paying or cancelling frees the
allowance; concurrent requests of one customer never get past the cap (the database shows it)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import sqlalchemy as sa

from boxoffice.booking.models import Booking
from tests.conftest import bearer
from tests.payment.conftest import Cinema

# One system per module and backend (see tests/payment/conftest.py): its loop is the module's.
pytestmark = pytest.mark.asyncio(loop_scope="module")

BOOK = "/api/bookings/book"
HOLD = "/api/bookings/seats/hold"


def take(cinema: Cinema, count: int) -> list[str]:
    """The next `count` seats nobody has been given yet."""
    seats = cinema.seat_ids[cinema._next_seat : cinema._next_seat + count]
    cinema._next_seat += count
    assert len(seats) == count, "the hall ran out of seats for the stories"
    return seats


async def book(cinema: Cinema, token: str, seats: list[str]):
    body = {"showtime_id": cinema.showtime_id, "seat_ids": seats}
    return await cinema.api.post(BOOK, json=body, headers=bearer(token))


async def hold(cinema: Cinema, token: str, seats: list[str]):
    body = {"showtime_id": cinema.showtime_id, "seat_ids": seats}
    return await cinema.api.post(HOLD, json=body, headers=bearer(token))


async def another_showtime(cinema: Cinema) -> Cinema:
    """A second showtime (its own movie and hall) in the same system."""
    other = Cinema(cinema.api, cinema.settings)
    await other.open(rows=4, seats_per_row=10)
    return other


def assert_cap_refusal(response, cap: str) -> None:
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["error_type"] == "ConflictError"
    assert body["cap"] == cap
    assert "seat_ids" not in body  # nobody else has the seats: it is the customer's own cap
    assert "Pay for or cancel" in body["detail"]


async def unpaid_seats_of(cinema: Cinema, token: str) -> dict[str, int]:
    """Seats of the customer's live pending bookings, by showtime, from booking's database."""
    me = await cinema.api.get("/api/bookings/bookings", headers=bearer(token))
    assert me.status_code == 200, me.text
    user_ids = {b["user_id"] for b in me.json()}
    if not user_ids:
        return {}
    async with cinema.context("booking").db.engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(Booking.showtime_id, sa.func.sum(Booking.total_seats))
                .where(
                    Booking.user_id.in_([uuid.UUID(u) for u in user_ids]),
                    Booking.status == "pending",
                )
                .group_by(Booking.showtime_id)
            )
        ).all()
    return {str(r[0]): int(r[1]) for r in rows}


async def test_one_customer_cannot_keep_more_than_ten_seats_of_a_showtime_unpaid(cinema):
    hoarder = cinema.customer()
    assert (await book(cinema, hoarder, take(cinema, 4))).status_code == 201
    assert (await book(cinema, hoarder, take(cinema, 4))).status_code == 201

    refused = await book(cinema, hoarder, take(cinema, 3))
    assert_cap_refusal(refused, "per_showtime")
    assert "at most 10 seats for this showtime" in refused.json()["detail"]
    assert refused.json()["unpaid_seats"] == 8

    # Holding counts too: only two more seats may be held.
    assert_cap_refusal(await hold(cinema, hoarder, take(cinema, 3)), "per_showtime")
    last_two = take(cinema, 2)
    assert (await hold(cinema, hoarder, last_two)).status_code == 200
    assert (await book(cinema, hoarder, last_two)).status_code == 201
    assert_cap_refusal(await book(cinema, hoarder, take(cinema, 1)), "per_showtime")
    assert_cap_refusal(await hold(cinema, hoarder, take(cinema, 1)), "per_showtime")
    assert (await unpaid_seats_of(cinema, hoarder)) == {cinema.showtime_id: 10}

    # Everybody else still books, and is offered seats.
    neighbour = cinema.customer()
    assert (await book(cinema, neighbour, take(cinema, 3))).status_code == 201
    best = await cinema.api.get(
        f"/api/bookings/showtimes/{cinema.showtime_id}/best-seats", params={"count": 4}
    )
    assert best.status_code == 200 and len(best.json()["seat_ids"]) == 4


async def test_one_customer_cannot_keep_more_than_twenty_seats_unpaid_in_all(cinema):
    hoarder = cinema.customer()
    second, third = await another_showtime(cinema), await another_showtime(cinema)
    assert (await book(cinema, hoarder, take(cinema, 10))).status_code == 201
    assert (await book(second, hoarder, take(second, 10))).status_code == 201

    refused = await book(third, hoarder, take(third, 1))
    assert_cap_refusal(refused, "in_all")
    assert "at most 20 seats across all showtimes" in refused.json()["detail"]
    assert_cap_refusal(await hold(third, hoarder, take(third, 1)), "in_all")
    assert sum((await unpaid_seats_of(cinema, hoarder)).values()) == 20

    assert (await book(third, cinema.customer(), take(third, 10))).status_code == 201


async def test_paying_or_cancelling_frees_the_allowance(cinema):
    customer = cinema.customer()
    first = (await book(cinema, customer, take(cinema, 10))).json()
    assert_cap_refusal(await book(cinema, customer, take(cinema, 1)), "per_showtime")

    paid = await cinema.pay(customer, first)
    assert paid.status_code == 201, paid.text
    await cinema.booking_reaches(customer, first["id"], "confirmed", "paid")
    second = await book(cinema, customer, take(cinema, 10))
    assert second.status_code == 201, second.text

    cancelled = await cinema.api.post(
        f"/api/bookings/bookings/{second.json()['id']}/cancel", headers=bearer(customer)
    )
    assert cancelled.status_code == 200, cancelled.text
    assert (await book(cinema, customer, take(cinema, 10))).status_code == 201


async def test_concurrent_requests_of_one_customer_never_pass_the_cap(cinema):
    hoarder = cinema.customer()
    pairs = [take(cinema, 2) for _ in range(16)]
    singles = [take(cinema, 1) for _ in range(8)]
    answers = await asyncio.gather(
        *(book(cinema, hoarder, seats) for seats in pairs),
        *(hold(cinema, hoarder, seats) for seats in singles),
        *(book(cinema, hoarder, seats) for seats in singles),
    )
    statuses = [a.status_code for a in answers]
    assert set(statuses) <= {200, 201, 409}, [a.text for a in answers if a.status_code >= 500]
    unpaid = await unpaid_seats_of(cinema, hoarder)
    assert unpaid[cinema.showtime_id] <= 10
    # The cap is not a lock-out: at least some got through, and every refusal said why.
    assert statuses.count(201) >= 1
    for answer in answers:
        if answer.status_code == 409 and "cap" in answer.json():
            assert "Pay for or cancel" in answer.json()["detail"]

    # Many customers at once, one request each: nobody is refused for another's cap.
    others = [cinema.customer() for _ in range(8)]
    results = await asyncio.gather(*(book(cinema, c, take(cinema, 2)) for c in others))
    assert [r.status_code for r in results] == [201] * 8, [r.text for r in results]
