"""Races: many customers at once, checked in the database afterwards (SPEC 4, rules 1 and 2).

Each runs on SQLite with the in-process holds and on PostgreSQL with Redis. The negative
control switches the guards off (no holds, no unique index) and shows the same race sells a
seat twice, so the positive tests are known to be able to fail.
"""

from __future__ import annotations

import asyncio
import collections
import random
import uuid
from unittest.mock import ANY

import pytest
import sqlalchemy as sa

from boxoffice.booking.errors import SeatsUnavailable
from boxoffice.booking.schemas import SeatSelection
from boxoffice.booking.seats import guards_of
from boxoffice.booking.service import BookingService
from boxoffice.core.auth import decode_token
from boxoffice.seatboard import MemorySeatBoard, seat_board, use_seat_board
from tests.booking.conftest import (
    BOOK,
    booking_ctx,
    booking_row,
    events_of,
    live_sales,
    movie_count_agrees,
    run_out,
)
from tests.conftest import delete_redis_prefix


async def book_all(api, requests):
    """Fire every (customer, seat ids) booking at once; their responses in order."""
    return await asyncio.gather(
        *(
            api.post(BOOK, headers=who.headers, json={"showtime_id": show_id, "seat_ids": seats})
            for who, show_id, seats in requests
        )
    )


async def race_for_the_same_seats(api, show, customer, racers=50):
    seats = show.ids("B2", "B3")
    responses = await book_all(api, [(customer(), show.id, seats) for _ in range(racers)])
    return seats, responses


def sold_twice(sales):
    counts = collections.Counter(seat for seat, _ in sales)
    return [seat for seat, n in counts.items() if n > 1]


async def test_fifty_customers_racing_for_the_same_seats_exactly_one_wins(api, make_show, customer):
    show = await make_show(api)
    seats, responses = await race_for_the_same_seats(api, show, customer)

    statuses = collections.Counter(r.status_code for r in responses)
    assert statuses == {201: 1, 409: 49}
    for loser in (r for r in responses if r.status_code == 409):
        assert loser.json()["seat_ids"] and set(loser.json()["seat_ids"]) <= set(seats)
    [winner] = [r.json() for r in responses if r.status_code == 201]
    assert sorted(await live_sales(api, show.id)) == sorted((s, winner["id"]) for s in seats)
    await movie_count_agrees(api, show)


async def test_without_the_guards_the_same_race_sells_a_seat_twice(api, make_show, customer):
    """Negative control: no holds and no unique index leave only a read-then-insert check,
    and concurrent buyers slip through it together."""
    show = await make_show(api)
    guards_of(booking_ctx(api)).holds = False
    async with booking_ctx(api).db.engine.begin() as conn:
        await conn.execute(sa.text("DROP INDEX uq_booking_seats_live_seat"))

    _, responses = await race_for_the_same_seats(api, show, customer)

    assert sum(r.status_code == 201 for r in responses) > 1
    assert sold_twice(await live_sales(api, show.id))
    await movie_count_agrees(api, show)


async def test_a_hundred_customers_taking_different_seats_all_succeed(api, make_show, customer):
    show = await make_show(api, rows=10, seats_per_row=10)
    requests = [(customer(), show.id, [seat["id"]]) for seat in show.seats]

    responses = await book_all(api, requests)

    assert [r.status_code for r in responses] == [201] * 100, [
        r.text for r in responses if r.status_code != 201
    ][:3]
    sales = await live_sales(api, show.id)
    assert len(sales) == 100 and not sold_twice(sales)
    await movie_count_agrees(api, show)  # the showtime's count follows, all sold


async def test_random_overlapping_selections_sell_disjoint_seat_sets(api, make_show, customer):
    show = await make_show(api, rows=4, seats_per_row=8)
    rng = random.Random(20260214)
    requests = []
    for _ in range(60):
        row = rng.choice("ABCD")
        start = rng.randint(1, 6)
        labels = [f"{row}{n}" for n in range(start, start + rng.randint(1, 3))]
        requests.append((customer(), show.id, show.ids(*labels)))

    responses = await book_all(api, requests)

    assert {r.status_code for r in responses} <= {201, 409}
    won = {
        r.json()["id"]: set(req[2])
        for r, req in zip(responses, requests, strict=True)
        if r.status_code == 201
    }
    assert won
    seats_won = [seat for seats in won.values() for seat in seats]
    assert len(seats_won) == len(set(seats_won))  # no two winners share a seat
    sales = await live_sales(api, show.id)
    assert not sold_twice(sales)
    assert {(s, b) for s, b in sales} == {(s, b) for b, seats in won.items() for s in seats}
    for response, (_, _, wanted) in zip(responses, requests, strict=True):
        if response.status_code == 409:  # a conflict names seats that were asked for
            assert response.json()["seat_ids"] and set(response.json()["seat_ids"]) <= set(wanted)
    await movie_count_agrees(api, show)


async def flush_holds(api):
    """Lose every hold, as a Redis flush (or restart) would."""
    runtime = api.runtime
    if isinstance(seat_board(runtime), MemorySeatBoard):
        use_seat_board(runtime, MemorySeatBoard())
    else:
        await delete_redis_prefix(f"{runtime.settings.db_prefix}bo:")


async def test_losing_every_hold_mid_race_still_sells_each_seat_once(api, make_show, customer):
    racers = 30
    show = await make_show(api)
    alice = customer()
    first = await api.post(
        BOOK, headers=alice.headers, json={"showtime_id": show.id, "seat_ids": show.ids("A1")}
    )
    assert first.status_code == 201
    await flush_holds(api)

    async def flush_soon():
        await asyncio.sleep(0.01)
        await flush_holds(api)

    contested = show.ids("A1", "A2")
    results = await asyncio.gather(
        book_all(api, [(customer(), show.id, contested) for _ in range(racers)]),
        book_all(api, [(customer(), show.id, show.ids("C1")) for _ in range(racers)]),
        flush_soon(),
    )
    on_a, on_c, _ = results
    assert all(r.status_code == 409 for r in on_a)  # A1 was sold before the flush
    assert sum(r.status_code == 201 for r in on_c) == 1
    sales = await live_sales(api, show.id)
    assert not sold_twice(sales)
    assert sorted(s for s, _ in sales) == sorted(show.ids("A1", "C1"))
    await movie_count_agrees(api, show)


async def test_losing_the_insert_race_undoes_only_the_insert(api, make_show, customer):
    """The index refusing a booking undoes its insert alone: the expirations
    done before it, with their events, and whatever else the transaction did are kept."""
    show = await make_show(api)
    ctx = booking_ctx(api)
    alice, carol, dave, erin = customer(), customer(), customer(), customer()
    stale, other_stale = [
        (await api.post(BOOK, headers=who.headers, json=show.selection(seat))).json()["id"]
        for who, seat in ((alice, "A1"), (erin, "B1"))
    ]
    sold = await api.post(BOOK, headers=carol.headers, json=show.selection("A2"))
    assert sold.status_code == 201
    await run_out(api, stale, other_stale, board=False)
    # The seat board would refuse A2 before the database is asked: switch it off, so the
    # requests below reach the insert and lose there, to carol's row.
    guards_of(ctx).holds = False

    # A request expires alice's overdue booking on A1 on its way, then loses A2.
    lost = await api.post(BOOK, headers=dave.headers, json=show.selection("A1", "A2"))
    assert lost.status_code == 409, lost.text
    assert lost.json()["seat_ids"] == show.ids("A2")
    assert (await booking_row(api, stale)).status == "expired"
    assert await events_of(api, stale) == [("booking.created", ANY), ("booking.expired", ANY)]

    # In a caller's transaction, what it did before the lost insert stays and commits.
    dave_principal = decode_token(ctx.settings, dave.token)
    async with ctx.db.transaction() as session:
        service = BookingService.from_context(ctx, session)
        assert await service.expire(uuid.UUID(other_stale))
        with pytest.raises(SeatsUnavailable):
            await service.book(
                dave_principal, SeatSelection(showtime_id=show.id, seat_ids=show.ids("A2"))
            )
    assert (await booking_row(api, other_stale)).status == "expired"
    assert [n for n, _ in await events_of(api, other_stale)] == [
        "booking.created",
        "booking.expired",
    ]
    # and its after-commit work too: the board learnt that B1 is free
    status = (await api.get(f"/api/bookings/showtimes/{show.id}/seat-status")).json()["seats"]
    assert show.seat("B1") not in status and show.seat("A2") in status
    assert await live_sales(api, show.id) == [(show.seat("A2"), sold.json()["id"])]
