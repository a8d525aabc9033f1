"""Shows in the past are neither scheduled nor sold (issue 11, finding 8; docs/showtimes.md).

A showtime's date and time are its theater's wall clock, in the theater's own time zone:
scheduling one that has already started there is refused, and once a show has started its seats
can be neither held, booked nor paid for. Listings leave out started shows unless asked, while
a single showtime can still be read (a customer looks at their ticket).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
import zoneinfo

import pytest

from tests.conftest import bearer

# One system per module and backend (see tests/payment/conftest.py): its loop is the module's.
pytestmark = pytest.mark.asyncio(loop_scope="module")

# How far ahead a "starts in a moment" show is scheduled: long enough for a busy machine to
# schedule it, list it and book it before it starts.
SOON = dt.timedelta(seconds=6)
STARTED = "This showtime has already started"


def wall_clock(zone: str, offset: dt.timedelta) -> tuple[str, str]:
    """The date and time the clocks of `zone` show `offset` from now (whole seconds)."""
    local = dt.datetime.now(zoneinfo.ZoneInfo(zone)) + offset
    return local.date().isoformat(), local.strftime("%H:%M:%S")


async def new_theater(cinema, **fields) -> dict:
    response = await cinema.api.post(
        "/api/movies/theaters",
        json={
            "name": f"Hall {uuid.uuid4().hex[:6]}",
            "location": "1 Main St",
            "city": "Hanoi",
            "rows": 2,
            "seats_per_row": 5,
            **fields,
        },
        headers=bearer(cinema.admin),
    )
    assert response.status_code == 201, response.text
    return response.json()


async def new_movie(cinema) -> dict:
    response = await cinema.api.post(
        "/api/movies/movies",
        json={"title": f"Film {uuid.uuid4().hex[:6]}", "duration_minutes": 90},
        headers=bearer(cinema.admin),
    )
    assert response.status_code == 201, response.text
    return response.json()


async def schedule(cinema, movie: dict, theater: dict, day: str, clock: str):
    return await cinema.api.post(
        "/api/movies/showtimes",
        json={
            "movie_id": movie["id"],
            "theater_id": theater["id"],
            "show_date": day,
            "show_time": clock,
            "price": "100000",
        },
        headers=bearer(cinema.admin),
    )


async def show_starting_soon(cinema) -> tuple[dict, dict, list[str]]:
    """A showtime that starts in a moment (theater time), its movie and its theater's seats."""
    movie, theater = await new_movie(cinema), await new_theater(cinema)
    response = await schedule(cinema, movie, theater, *wall_clock(theater["timezone"], SOON))
    assert response.status_code == 201, response.text
    seats = (await cinema.api.get(f"/api/movies/seats/{theater['id']}")).json()
    return response.json(), movie, [s["id"] for s in seats]


async def until_started(show: dict) -> None:
    starts = dt.datetime.fromisoformat(show["starts_at"])
    wait = (starts - dt.datetime.now(dt.UTC)).total_seconds()
    await asyncio.sleep(max(0.0, wait) + 0.3)


def assert_refused(response, status: int, error_type: str, words: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status_code"] == status
    assert body["error_type"] == error_type
    assert words in body["detail"]


async def test_a_showtime_dated_yesterday_is_refused(cinema):
    movie, theater = await new_movie(cinema), await new_theater(cinema)
    assert theater["timezone"] == cinema.settings.theater_timezone  # the default setting

    response = await schedule(
        cinema, movie, theater, *wall_clock(theater["timezone"], -dt.timedelta(days=1))
    )

    assert_refused(response, 400, "ShowtimeInPast", "past")
    listed = await cinema.api.get(
        "/api/movies/showtimes", params={"theater_id": theater["id"], "include_started": "true"}
    )
    assert listed.json() == []


async def test_earlier_today_is_refused_where_the_theater_is_ahead_of_utc_but_not_behind(cinema):
    movie = await new_movie(cinema)
    tokyo = await new_theater(cinema, timezone="Asia/Tokyo")
    los_angeles = await new_theater(cinema, timezone="America/Los_Angeles")
    assert (tokyo["timezone"], los_angeles["timezone"]) == ("Asia/Tokyo", "America/Los_Angeles")
    # An hour ago on Tokyo's clocks: read as UTC it would still be 8 hours away, and on the
    # clocks of Los Angeles (16 or 17 hours behind Tokyo) it comes later today or tomorrow.
    day, clock = wall_clock("Asia/Tokyo", -dt.timedelta(hours=1))

    in_tokyo = await schedule(cinema, movie, tokyo, day, clock)
    in_los_angeles = await schedule(cinema, movie, los_angeles, day, clock)

    assert_refused(in_tokyo, 400, "ShowtimeInPast", "Asia/Tokyo")
    assert in_los_angeles.status_code == 201, in_los_angeles.text
    show = in_los_angeles.json()
    assert show["timezone"] == "America/Los_Angeles"
    local = dt.datetime.fromisoformat(f"{day}T{clock}").replace(
        tzinfo=zoneinfo.ZoneInfo("America/Los_Angeles")
    )
    assert dt.datetime.fromisoformat(show["starts_at"]) == local


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "asia/tokyo", "localtime", "../etc"])
async def test_a_theater_with_an_unknown_time_zone_is_refused(cinema, zone):
    response = await cinema.api.post(
        "/api/movies/theaters",
        json={
            "name": "Nowhere",
            "location": "1 Main St",
            "city": "Hanoi",
            "rows": 1,
            "seats_per_row": 1,
            "timezone": zone,
        },
        headers=bearer(cinema.admin),
    )
    assert response.status_code == 400, response.text
    assert response.json()["error_type"] == "ValidationError"
    assert "timezone" in response.json()["detail"]
    assert "unknown time zone" in response.json()["detail"]


async def test_once_the_show_has_started_nothing_is_held_booked_or_charged(cinema):
    show, _, seats = await show_starting_soon(cinema)
    alice, bob = cinema.customer(), cinema.customer()
    booked = await cinema.api.post(
        "/api/bookings/book",
        json={"showtime_id": show["id"], "seat_ids": seats[:1]},
        headers=bearer(alice),
    )
    assert booked.status_code == 201, booked.text  # before the start: sold as usual
    booking = booked.json()
    assert booking["show_starts_at"] == show["starts_at"]

    await until_started(show)
    hold = await cinema.api.post(
        "/api/bookings/seats/hold",
        json={"showtime_id": show["id"], "seat_ids": seats[1:2]},
        headers=bearer(bob),
    )
    book = await cinema.api.post(
        "/api/bookings/book",
        json={"showtime_id": show["id"], "seat_ids": seats[2:3]},
        headers=bearer(bob),
    )
    pay = await cinema.pay(alice, booking)

    assert_refused(hold, 409, "ShowtimeStarted", STARTED)
    assert_refused(book, 409, "ShowtimeStarted", STARTED)
    assert_refused(pay, 409, "ShowtimeStarted", STARTED)
    assert cinema.charge_calls == 0
    still = await cinema.booking(alice, booking["id"])
    assert (still["status"], still["payment_status"]) == ("pending", "unpaid")
    await cinema.check_money()


async def test_listings_leave_out_started_shows_unless_asked(cinema):
    show, movie, _ = await show_starting_soon(cinema)
    later = await schedule(
        cinema, movie, await new_theater(cinema), *wall_clock("UTC", dt.timedelta(days=2))
    )
    assert later.status_code == 201, later.text
    by_movie = {"movie_id": movie["id"]}

    async def listed(**params) -> list[str]:
        response = await cinema.api.get("/api/movies/showtimes", params={**by_movie, **params})
        assert response.status_code == 200, response.text
        return [s["id"] for s in response.json()]

    # Listed before it starts (which also puts the listing in the catalog cache)...
    assert await listed() == [show["id"], later.json()["id"]]

    await until_started(show)

    # ...and left out once it has, though the listing was cached.
    assert await listed() == [later.json()["id"]]
    assert await listed(include_started="true") == [show["id"], later.json()["id"]]
    assert await listed(include_started="false") == [later.json()["id"]]
    single = await cinema.api.get(f"/api/movies/showtimes/{show['id']}")
    assert single.status_code == 200, single.text
    assert single.json()["id"] == show["id"]
