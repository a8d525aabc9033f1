"""Booking seats: the happy path, who may see what, bad input, and a movie service that is down."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import sqlalchemy as sa
from prometheus_client import REGISTRY

from boxoffice.booking.models import Booking
from boxoffice.seatboard import seat_board
from tests.booking.conftest import (
    BOOK,
    HOLD,
    RELEASE,
    events_of,
    eventually,
    live_sales,
    movie_count_agrees,
    query,
)
from tests.conftest import bearer, scrape


def parse_time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


async def test_booking_two_seats_makes_a_pending_ticket_with_everything_it_shows(
    api, make_show, customer
):
    show = await make_show(api, price=120000)
    alice = customer()
    await api.post(HOLD, headers=alice.headers, json=show.selection("B2"))

    # B2 is alice's hold, B3 is free: both go into the booking in one step
    response = await api.post(BOOK, headers=alice.headers, json=show.selection("B2", "B3"))
    assert response.status_code == 201, response.text
    booking = response.json()
    assert booking["status"] == "pending" and booking["payment_status"] == "unpaid"
    assert booking["user_id"] == str(alice.user_id)
    assert booking["showtime_id"] == show.id
    assert re.fullmatch(r"BK[2-9A-HJ-NP-Z]{8}", booking["booking_code"])
    assert booking["total_seats"] == 2 and booking["total_price"] == 240000.0
    assert booking["seat_ids"] == show.ids("B2", "B3")
    assert [(s["seat_row"], s["seat_number"], s["price"]) for s in booking["seats"]] == [
        ("B", 2, 120000.0),
        ("B", 3, 120000.0),
    ]
    assert booking["movie_title"] == "Dune: Part Two" and booking["theater_name"] == "Hall 1"
    assert booking["show_date"] == show.raw["show_date"] and booking["show_time"] == "19:30:00"
    created, expires = parse_time(booking["created_at"]), parse_time(booking["expires_at"])
    assert expires - created == dt.timedelta(seconds=900)

    # the seats read as booked, for alice too, and her holds are gone
    status = await api.get(f"/api/bookings/showtimes/{show.id}/seat-status", headers=alice.headers)
    assert status.json()["seats"] == {i: "booked" for i in show.ids("B2", "B3")}
    assert await seat_board(api.runtime).holders(show.id) == {}

    # booking.created went into the outbox with the contract's payload
    [(name, payload)] = await events_of(api, booking["id"])
    assert name == "booking.created"
    assert payload["booking_code"] == booking["booking_code"]
    assert payload["user_email"] == alice.email
    assert payload["total_price"] == "240000.00" and payload["total_seats"] == 2
    assert [s["seat_row"] + str(s["seat_number"]) for s in payload["seats"]] == ["B2", "B3"]

    # the movie service hears of it and its showtime count stays true
    async def count_is_ten() -> bool:
        shown = await api.get(f"/api/movies/showtimes/{show.id}")
        return shown.json()["available_seats"] == 10

    await eventually(count_is_ten)


async def test_bad_input_is_a_clear_4xx_and_changes_nothing(api, make_show, customer):
    show = await make_show(api)
    elsewhere = await make_show(api)
    alice = customer()
    seat = show.seat("A1")
    cases = [
        (None, {"showtime_id": show.id, "seat_ids": [seat]}, 401),
        (alice, {"showtime_id": "not-a-uuid", "seat_ids": [seat]}, 400),
        (alice, {"showtime_id": show.id, "seat_ids": ["A1"]}, 400),
        (alice, {"showtime_id": show.id, "seat_ids": []}, 400),
        (alice, {"showtime_id": show.id, "seat_ids": seat}, 400),
        (alice, {"showtime_id": show.id, "seat_ids": [seat, seat]}, 400),
        (alice, {"showtime_id": show.id, "seat_ids": [str(uuid.uuid4()) for _ in range(101)]}, 400),
        (alice, {"showtime_id": show.id, "seat_ids": [s["id"] for s in show.seats[:11]]}, 400),
        (alice, {"showtime_id": show.id, "seat_ids": [str(uuid.uuid4())]}, 400),
        (alice, {"showtime_id": show.id, "seat_ids": [seat, elsewhere.seat("A2")]}, 400),
        (alice, {"showtime_id": str(uuid.uuid4()), "seat_ids": [seat]}, 404),
        (alice, {"seat_ids": [seat]}, 400),
        (alice, [seat], 400),
    ]
    for path in (BOOK, HOLD):
        for who, body, status in cases:
            headers = who.headers if who else {}
            response = await api.post(path, headers=headers, json=body)
            assert response.status_code == status, (path, body, response.text)
            error = response.json()
            assert set(error) >= {"detail", "status_code", "error_type"}
            assert error["status_code"] == status
    garbage = await api.post(BOOK, headers=alice.headers, content=b"{not json")
    assert garbage.status_code == 400
    unknown_seat = await api.post(
        BOOK,
        headers=alice.headers,
        json={"showtime_id": show.id, "seat_ids": [str(uuid.UUID(int=7))]},
    )
    assert str(uuid.UUID(int=7)) in unknown_seat.json()["detail"]

    for path in (
        "/api/bookings/bookings/not-a-uuid",
        "/api/bookings/bookings?limit=0",
        "/api/bookings/bookings?limit=201",
        "/api/bookings/bookings?offset=-1",
        f"/api/bookings/showtimes/{show.id}/best-seats?count=0",
        "/api/bookings/showtimes/nope/seat-status",
    ):
        response = await api.get(path, headers=alice.headers)
        assert response.status_code == 400, (path, response.text)
    assert (
        await api.post(RELEASE, headers=alice.headers, json={"seat_ids": []})
    ).status_code == 400
    bad_token = await api.get("/api/bookings/bookings", headers=bearer("not.a.token"))
    assert bad_token.status_code == 401

    # nothing was booked or held by any of it
    assert await query(api, sa.select(Booking.id)) == []
    assert await seat_board(api.runtime).holders(show.id) == {}
    assert await live_sales(api, show.id) == []


async def test_seat_choice_best_seats_and_the_stranded_seat_rule(api, make_show, customer):
    show = await make_show(api, rows=5, seats_per_row=8, aisles_after=[4])
    alice, bob = customer(), customer()
    best = await api.get(f"/api/bookings/showtimes/{show.id}/best-seats?count=2")
    assert best.status_code == 200
    labels = [f"{s['seat_row']}{s['seat_number']}" for s in best.json()["seats"]]
    assert labels in (["C3", "C4"], ["C5", "C6"])

    await api.post(BOOK, headers=alice.headers, json=show.selection("C3", "C4", "C5", "C6"))
    after = await api.get(
        f"/api/bookings/showtimes/{show.id}/best-seats?count=2", headers=bob.headers
    )
    # the middle row still wins, at its free ends (no seat left stranded)
    labels = [f"{s['seat_row']}{s['seat_number']}" for s in after.json()["seats"]]
    assert labels in (["C1", "C2"], ["C7", "C8"])
    assert after.json()["seat_ids"] == show.ids(*labels)
    too_many = await api.get(f"/api/bookings/showtimes/{show.id}/best-seats?count=5")
    assert too_many.json()["seats"] == []  # four seats between an aisle and a wall at most

    # the rule applies only where the showtime turns it on
    strict = await make_show(api, rows=1, seats_per_row=6, enforce_seat_rules=True)
    relaxed = await make_show(api, rows=1, seats_per_row=6)
    alice = customer()
    stranding = await api.post(BOOK, headers=alice.headers, json=strict.selection("A2", "A3"))
    assert stranding.status_code == 400
    assert "A1" in stranding.json()["detail"]
    assert stranding.json()["seat_ids"] == strict.ids("A1")
    assert (
        await api.post(BOOK, headers=alice.headers, json=strict.selection("A1", "A2"))
    ).status_code == 201
    assert (
        await api.post(BOOK, headers=alice.headers, json=relaxed.selection("A2", "A3"))
    ).status_code == 201
    for each in (show, strict, relaxed):
        await movie_count_agrees(api, each)


async def test_with_the_movie_service_down_booking_answers_503_and_opens_its_breaker(
    system, customer
):
    async with system(
        services=("booking",), movie_service_url="http://127.0.0.1:9", http_retries=2
    ) as api:
        alice = customer()
        body = {"showtime_id": str(uuid.uuid4()), "seat_ids": [str(uuid.uuid4())]}
        before = REGISTRY.get_sample_value("bookings_total", {"outcome": "unavailable"}) or 0
        for _ in range(4):
            response = await api.post(BOOK, headers=alice.headers, json=body)
            assert response.status_code == 503
            assert response.json()["error_type"] == "ServiceUnavailable"
        breaker = REGISTRY.get_sample_value(
            "circuit_breaker_state", {"service": "booking", "target": "movie"}
        )
        assert breaker == 2  # open
        after = REGISTRY.get_sample_value("bookings_total", {"outcome": "unavailable"})
        assert after == before + 4
        # reads that need no movie call still work
        assert (await api.get("/api/bookings/bookings", headers=alice.headers)).status_code == 200
        status = await api.get(f"/api/bookings/showtimes/{body['showtime_id']}/seat-status")
        assert status.status_code == 200
        assert 'circuit_breaker_state{service="booking",target="movie"} 2.0' in await scrape()
