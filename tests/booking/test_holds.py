"""Seat holds through the API: owned, all-or-nothing, expiring, capped, and shown on the map."""

from __future__ import annotations

from redis.asyncio import Redis

from boxoffice.seatboard import RedisSeatBoard, use_seat_board
from tests.booking.conftest import (
    BOOK,
    HOLD,
    RELEASE,
    booking_ctx,
    live_sales,
    movie_count_agrees,
)


async def seat_status(api, show, customer=None):
    headers = customer.headers if customer else {}
    response = await api.get(f"/api/bookings/showtimes/{show.id}/seat-status", headers=headers)
    assert response.status_code == 200
    by_id = {seat_id: label for label in labels_of(show) for seat_id in [show.seat(label)]}
    return {by_id[seat]: state for seat, state in response.json()["seats"].items()}


def labels_of(show):
    return [f"{s['seat_row']}{s['seat_number']}" for s in show.seats]


async def test_holds_are_owned_all_or_nothing_capped_and_shown_on_the_seat_map(
    api, make_show, customer
):
    show = await make_show(api, rows=3, seats_per_row=6)
    alice, bob = customer(), customer()

    held = await api.post(HOLD, headers=alice.headers, json=show.selection("A1", "A2"))
    assert held.status_code == 200, held.text
    assert held.json()["held"] is True
    assert held.json()["seat_ids"] == show.ids("A1", "A2")
    assert held.json()["hold_ttl_seconds"] == 600

    assert await seat_status(api, show, alice) == {"A1": "mine", "A2": "mine"}
    assert await seat_status(api, show, bob) == {"A1": "held", "A2": "held"}
    assert await seat_status(api, show) == {"A1": "held", "A2": "held"}
    # the seat map (movie service) shows the same, in one call
    seat_map = await api.get(
        f"/api/movies/showtimes/{show.id}/available-seats", headers=alice.headers
    )
    states = {s["id"]: s["status"] for s in seat_map.json()["seats"]}
    assert [states[i] for i in show.ids("A1", "A2", "A3")] == ["mine", "mine", "available"]

    # all or nothing: bob gets none of the seats when one is taken, and learns which
    refused = await api.post(HOLD, headers=bob.headers, json=show.selection("A3", "A2", "A4"))
    assert refused.status_code == 409
    body = refused.json()
    assert body["error_type"] == "ConflictError" and body["status_code"] == 409
    assert "A2" in body["detail"] and body["seat_ids"] == show.ids("A2")
    assert await seat_status(api, show, bob) == {"A1": "held", "A2": "held"}

    # holding again extends alice's own hold; releasing is hers alone
    assert (await api.post(HOLD, headers=alice.headers, json=show.selection("A2"))).is_success
    not_his = await api.post(RELEASE, headers=bob.headers, json=show.selection("A2"))
    assert not_his.status_code == 200 and not_his.json()["released"] == []
    assert await seat_status(api, show, bob) == {"A1": "held", "A2": "held"}
    released = await api.post(RELEASE, headers=alice.headers, json=show.selection("A2"))
    assert released.json()["released"] == show.ids("A2")
    assert await seat_status(api, show, bob) == {"A1": "held"}
    assert (await api.post(HOLD, headers=bob.headers, json=show.selection("A2"))).is_success

    # one customer may hold at most MAX_SEATS_PER_BOOKING (10) seats of a showtime at once
    rows_b_c = labels_of(show)[6:18]
    assert (
        await api.post(HOLD, headers=alice.headers, json=show.selection(*rows_b_c[:9]))
    ).is_success
    over = await api.post(HOLD, headers=alice.headers, json=show.selection(*rows_b_c[9:11]))
    assert over.status_code == 400 and "you hold 10" in over.json()["detail"]
    assert len([s for s in (await seat_status(api, show, alice)).values() if s == "mine"]) == 10
    # the cap is per customer: bob is not held back by alice's holds
    assert (await api.post(HOLD, headers=bob.headers, json=show.selection(rows_b_c[11]))).is_success


async def test_with_redis_down_holds_degrade_and_the_database_still_decides(
    api, make_show, customer
):
    show = await make_show(api)
    alice, bob = customer(), customer()
    runtime = api.runtime
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    use_seat_board(runtime, RedisSeatBoard(dead, "down:"))
    try:
        held = await api.post(HOLD, headers=alice.headers, json=show.selection("A1"))
        assert held.status_code == 200
        assert held.json()["held"] is False and held.json()["expires_at"] is None

        booked = await api.post(BOOK, headers=alice.headers, json=show.selection("A1", "A2"))
        assert booked.status_code == 201, booked.text
        lost = await api.post(BOOK, headers=bob.headers, json=show.selection("A2", "A3"))
        assert lost.status_code == 409
        assert lost.json()["seat_ids"] == show.ids("A2")
        assert await seat_status(api, show, bob) == {"A1": "booked", "A2": "booked"}
        assert sorted(seat for seat, _ in await live_sales(api, show.id)) == sorted(
            show.ids("A1", "A2")
        )
    finally:
        await dead.aclose()
    assert booking_ctx(api).runtime is runtime
    await movie_count_agrees(api, show)
