"""Holding the best seats in one request (`POST /seats/hold-best`): the block `best-seats`
would suggest, held at once; in a rush, every customer gets a block of their own."""

from __future__ import annotations

import asyncio
import collections
import uuid

from boxoffice.seatboard import seat_board
from tests.booking.conftest import HOLD

HOLD_BEST = "/api/bookings/seats/hold-best"


def labels(show, seat_ids):
    by_id = {str(s["id"]): f"{s['seat_row']}{s['seat_number']}" for s in show.seats}
    return [by_id[str(i)] for i in seat_ids]


async def suggestion(api, show, who, count):
    response = await api.get(
        f"/api/bookings/showtimes/{show.id}/best-seats?count={count}", headers=who.headers
    )
    assert response.status_code == 200, response.text
    return response.json()["seat_ids"]


async def hold_best(api, show, who, count):
    return await api.post(
        HOLD_BEST, headers=who.headers, json={"showtime_id": show.id, "count": count}
    )


async def test_it_holds_what_best_seats_suggests_and_the_next_customer_gets_the_next_best(
    api, make_show, customer
):
    show = await make_show(api, rows=5, seats_per_row=8, aisles_after=[4])
    alice, bob = customer(), customer()

    expected = await suggestion(api, show, alice, 2)
    held = await hold_best(api, show, alice, 2)
    assert held.status_code == 200, held.text
    body = held.json()
    assert body["held"] is True and body["hold_ttl_seconds"] == 600
    assert body["seat_ids"] == expected
    assert labels(show, expected) in (["C3", "C4"], ["C5", "C6"])

    # bob is offered (and given) the best of what is left, not alice's seats
    expected_for_bob = await suggestion(api, show, bob, 2)
    for_bob = await hold_best(api, show, bob, 2)
    assert for_bob.status_code == 200, for_bob.text
    assert for_bob.json()["seat_ids"] == expected_for_bob
    assert not set(expected_for_bob) & set(expected)

    # the board agrees: each holds their own block, and alice asking again keeps hers
    holders = await seat_board(api.runtime).holders(show.id)
    assert {s: o for s, o in holders.items()} == {
        **{s: str(alice.user_id) for s in expected},
        **{s: str(bob.user_id) for s in expected_for_bob},
    }
    again = await hold_best(api, show, alice, 2)
    assert again.status_code == 200 and again.json()["seat_ids"] == expected


async def test_no_block_large_enough_is_a_conflict_and_holds_nothing(api, make_show, customer):
    show = await make_show(api, rows=1, seats_per_row=4)
    carol, dave = customer(), customer()
    assert (await api.post(HOLD, headers=carol.headers, json=show.selection("A2"))).is_success

    refused = await hold_best(api, show, dave, 3)  # A1 | A3 A4: no three side by side
    assert refused.status_code == 409
    body = refused.json()
    assert body["error_type"] == "ConflictError" and body["status_code"] == 409
    assert body["detail"] == "No 3 seats side by side are free" and body["count"] == 3
    assert await seat_board(api.runtime).holders(show.id) == {show.seat("A2"): str(carol.user_id)}

    two = await hold_best(api, show, dave, 2)
    assert two.status_code == 200 and labels(show, two.json()["seat_ids"]) == ["A3", "A4"]


async def test_bad_requests_get_a_clear_error_and_hold_nothing(api, make_show, customer):
    show = await make_show(api)
    erin = customer()
    cases = [
        ({"showtime_id": show.id, "count": 0}, 400),
        ({"showtime_id": show.id, "count": 101}, 400),
        ({"showtime_id": show.id, "count": 11}, 400),  # over MAX_SEATS_PER_BOOKING (10)
        ({"showtime_id": show.id, "count": "two"}, 400),
        ({"showtime_id": show.id}, 400),
        ({"showtime_id": "not-a-uuid", "count": 2}, 400),
        ({"showtime_id": str(uuid.uuid4()), "count": 2}, 404),
    ]
    for body, status in cases:
        response = await api.post(HOLD_BEST, headers=erin.headers, json=body)
        assert response.status_code == status, (body, response.text)
        assert response.json()["status_code"] == status
    anonymous = await api.post(HOLD_BEST, json={"showtime_id": show.id, "count": 2})
    assert anonymous.status_code == 401
    assert await seat_board(api.runtime).holders(show.id) == {}


async def test_forty_customers_at_once_each_get_a_block_of_their_own(api, make_show, customer):
    """SPEC 4.1 under a crowd that all wants the same best seats: no seat held twice, and
    nobody is refused while blocks remain (each lost block is tried again in the request)."""
    show = await make_show(api, rows=10, seats_per_row=20)
    crowd = [customer() for _ in range(40)]
    responses = await asyncio.gather(*(hold_best(api, show, who, 2) for who in crowd))
    assert [r.status_code for r in responses] == [200] * 40, [r.text for r in responses][:3]

    blocks = {who.user_id: r.json()["seat_ids"] for who, r in zip(crowd, responses, strict=True)}
    seats = [seat for block in blocks.values() for seat in block]
    assert len(seats) == 80 and len(set(seats)) == 80  # 40 blocks, none sharing a seat
    for block in blocks.values():  # side by side, in one row
        (row_a, n_a), (row_b, n_b) = sorted((s[0], int(s[1:])) for s in labels(show, block))
        assert row_a == row_b and n_b == n_a + 1

    # the board holds exactly these, each for the customer who was told so
    holders = await seat_board(api.runtime).holders(show.id)
    assert holders == {seat: str(who) for who, block in blocks.items() for seat in block}


async def test_one_customer_firing_many_at_once_stays_within_the_hold_cap(api, make_show, customer):
    """SPEC 4.10's hold cap (10 seats of a showtime) whatever the number of requests."""
    show = await make_show(api, rows=10, seats_per_row=20)
    bot = customer()
    responses = await asyncio.gather(*(hold_best(api, show, bot, 3) for _ in range(12)))
    ok = [r for r in responses if r.status_code == 200]
    assert {r.status_code for r in responses} <= {200, 400, 409}
    holders = await seat_board(api.runtime).holders(show.id)
    assert len(holders) <= 10 and set(holders.values()) <= {str(bot.user_id)}
    assert collections.Counter(s for r in ok for s in r.json()["seat_ids"]).keys() == holders.keys()
