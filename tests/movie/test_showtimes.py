"""Scheduling showtimes and finding them."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import sqlalchemy as sa

from boxoffice.movie.models import Showtime
from tests.movie.conftest import movie_context
from tests.movie.factories import create_movie, create_showtime, create_theater, future_day


async def test_a_showtime_takes_its_capacity_from_the_theater(api, admin):
    movie = await create_movie(api, admin, title="Mai")
    theater = await create_theater(api, admin, name="Hall 3", city="Hanoi", rows=5, seats_per_row=8)
    day = future_day(2)
    showtime = await create_showtime(
        api, admin, movie, theater, show_date=day, show_time="19:30", price=95000
    )
    assert showtime == {
        "id": showtime["id"],
        "movie_id": movie["id"],
        "theater_id": theater["id"],
        "show_date": day,
        "show_time": "19:30:00",
        "price": "95000.00",
        "total_seats": 40,
        "available_seats": 40,
        "enforce_seat_rules": False,
        "movie_title": "Mai",
        "theater_name": "Hall 3",
        "city": "Hanoi",
        # 19:30 in Hanoi (the default zone, UTC+7) is 12:30 UTC.
        "timezone": "Asia/Ho_Chi_Minh",
        "starts_at": f"{day}T12:30:00Z",
        "is_active": True,
    }
    fetched = await api.get(f"/api/movies/showtimes/{showtime['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == showtime


async def test_showtimes_are_found_by_movie_theater_date_and_city(api, admin):
    dune = await create_movie(api, admin, title="Dune")
    mai = await create_movie(api, admin, title="Mai")
    hanoi = await create_theater(api, admin, city="Hanoi")
    saigon = await create_theater(api, admin, city="Ho Chi Minh City")
    day1, day2 = future_day(1), future_day(2)
    a = await create_showtime(api, admin, dune, hanoi, show_date=day1, show_time="10:00")
    b = await create_showtime(api, admin, mai, hanoi, show_date=day1, show_time="14:00")
    c = await create_showtime(api, admin, dune, saigon, show_date=day2, show_time="10:00")

    async def ids(**params) -> list[str]:
        response = await api.get("/api/movies/showtimes", params=params)
        assert response.status_code == 200, response.text
        return [s["id"] for s in response.json()]

    assert await ids() == [a["id"], b["id"], c["id"]]
    assert await ids(movie_id=dune["id"]) == [a["id"], c["id"]]
    assert await ids(theater_id=hanoi["id"]) == [a["id"], b["id"]]
    assert await ids(date=day2) == [c["id"]]
    assert await ids(city="HO CHI MINH CITY") == [c["id"]]
    assert await ids(movie_id=dune["id"], city="hanoi", date=day1) == [a["id"]]
    assert await ids(limit=1, offset=1) == [b["id"]]
    for bad in ({"limit": 0}, {"limit": 201}, {"date": "tomorrow"}, {"movie_id": "42"}):
        assert (await api.get("/api/movies/showtimes", params=bad)).status_code == 400, bad


async def test_a_deactivated_movie_leaves_the_showtime_listings(api, admin):
    movie = await create_movie(api, admin)
    theater = await create_theater(api, admin)
    showtime = await create_showtime(api, admin, movie, theater)
    await api.delete(f"/api/movies/movies/{movie['id']}", headers=admin)
    assert (await api.get("/api/movies/showtimes")).json() == []
    # Booking still reads the showtime of a booking made before.
    assert (await api.get(f"/api/movies/showtimes/{showtime['id']}")).status_code == 200
    again = await api.post(
        "/api/movies/showtimes",
        json={
            "movie_id": movie["id"],
            "theater_id": theater["id"],
            "show_date": future_day(5),
            "show_time": "10:00",
            "price": 90000,
        },
        headers=admin,
    )
    assert again.status_code == 409


async def test_a_showtime_overlapping_another_in_the_same_theater_is_refused(api, admin):
    film = await create_movie(api, admin, duration_minutes=120)
    hall = await create_theater(api, admin)
    other_hall = await create_theater(api, admin)
    day = dt.date.fromisoformat(future_day(3))
    next_day = (day + dt.timedelta(days=1)).isoformat()
    first = await create_showtime(
        api, admin, film, hall, show_date=day.isoformat(), show_time="19:00"
    )

    async def schedule(theater: dict, show_date: str, show_time: str) -> int:
        body = {
            "movie_id": film["id"],
            "theater_id": theater["id"],
            "show_date": show_date,
            "show_time": show_time,
            "price": 100000,
        }
        response = await api.post("/api/movies/showtimes", json=body, headers=admin)
        if response.status_code == 409:
            assert response.json()["error_type"] == "ConflictError"
        return response.status_code

    assert await schedule(hall, day.isoformat(), "20:30") == 409  # starts during the first
    assert await schedule(hall, day.isoformat(), "17:30") == 409  # still running at 19:00
    assert await schedule(hall, day.isoformat(), "19:00") == 409
    assert await schedule(hall, day.isoformat(), "21:00") == 201  # starts as the first ends
    assert await schedule(hall, day.isoformat(), "23:30") == 201  # runs past midnight…
    assert await schedule(hall, next_day, "00:30") == 409  # …into the next day's early show
    assert await schedule(other_hall, day.isoformat(), "19:30") == 201  # another theater
    listed = await api.get("/api/movies/showtimes", params={"theater_id": hall["id"]})
    assert [s["show_time"] for s in listed.json()] == ["19:00:00", "21:00:00", "23:30:00"]
    assert listed.json()[0]["id"] == first["id"]


async def test_many_admins_scheduling_one_slot_at_once_make_exactly_one_showtime(api, admin):
    film = await create_movie(api, admin, duration_minutes=100)
    hall = await create_theater(api, admin)
    day = future_day(4)
    bodies = [
        {
            "movie_id": film["id"],
            "theater_id": hall["id"],
            "show_date": day,
            "show_time": f"18:{minute:02d}",
            "price": 110000,
        }
        for minute in range(0, 50, 5)
    ]
    responses = await asyncio.gather(
        *(api.post("/api/movies/showtimes", json=b, headers=admin) for b in bodies)
    )
    assert sorted(r.status_code for r in responses) == [201] + [409] * (len(bodies) - 1)
    async with movie_context(api).db.sessionmaker() as session:
        stored = await session.scalar(
            sa.select(sa.func.count())
            .select_from(Showtime)
            .where(Showtime.theater_id == uuid.UUID(hall["id"]))
        )
    assert stored == 1


INVALID_SHOWTIMES = [
    {"price": 0},
    {"price": -5},
    {"price": "12.345"},
    {"price": "NaN"},
    {"price": 10**12},
    {"show_time": "25:00"},
    {"show_time": "19:00+07:00"},
    {"show_date": "1999-12-31"},
    {"show_date": "31/12/2030"},
    {"movie_id": "not-a-uuid"},
    {"enforce_seat_rules": "maybe"},
]


async def test_bad_showtime_requests_are_refused_and_schedule_nothing(api, admin, customer):
    movie = await create_movie(api, admin)
    theater = await create_theater(api, admin)
    base = {
        "movie_id": movie["id"],
        "theater_id": theater["id"],
        "show_date": future_day(),
        "show_time": "19:00",
        "price": 100000,
    }
    for change in INVALID_SHOWTIMES:
        response = await api.post("/api/movies/showtimes", json={**base, **change}, headers=admin)
        assert response.status_code == 400, change
    assert (await api.post("/api/movies/showtimes", json=base, headers=customer)).status_code == 403
    assert (await api.post("/api/movies/showtimes", json=base)).status_code == 401

    unknown = str(uuid.uuid4())
    for ids in ({"movie_id": unknown}, {"theater_id": unknown}):
        response = await api.post("/api/movies/showtimes", json={**base, **ids}, headers=admin)
        assert response.status_code == 404, ids
        assert response.json()["error_type"] == "NotFoundError"
    assert (await api.get(f"/api/movies/showtimes/{unknown}")).status_code == 404
    assert (await api.get("/api/movies/showtimes/nope")).status_code == 400
    assert (await api.get("/api/movies/showtimes")).json() == []
