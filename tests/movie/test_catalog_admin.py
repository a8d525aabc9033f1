"""The admin's catalog: theaters and showtimes are edited and deactivated (issue 12); a
deactivated one leaves the listings but stays readable for the bookings that refer to it."""

from __future__ import annotations

import datetime as dt
import uuid

from tests.conftest import bearer
from tests.movie.factories import create_movie, create_showtime, create_theater, future_day
from tests.movie.test_availability import booking_event, publish_and_wait


async def listed(api, path, **params):
    response = await api.get(path, params={"limit": 200, **params})
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()}


async def test_a_theater_is_edited_then_deactivated(api, admin):
    theater = await create_theater(api, admin, name="Hall 7")
    changed = await api.put(
        f"/api/movies/theaters/{theater['id']}",
        json={"name": "Hall Seven", "city": "Da Nang", "timezone": "Asia/Bangkok"},
        headers=admin,
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["name"], body["city"], body["timezone"]) == (
        "Hall Seven",
        "Da Nang",
        "Asia/Bangkok",
    )
    assert body["rows"] == theater["rows"] and body["is_active"] is True
    bad_zone = await api.put(
        f"/api/movies/theaters/{theater['id']}", json={"timezone": "Mars/Olympus"}, headers=admin
    )
    assert bad_zone.status_code in (400, 422)

    movie = await create_movie(api, admin)
    show = await create_showtime(api, admin, movie, theater)
    # its showtimes are read in its zone: that no longer changes
    moved = await api.put(
        f"/api/movies/theaters/{theater['id']}", json={"timezone": "Asia/Tokyo"}, headers=admin
    )
    assert moved.status_code == 409

    gone = await api.delete(f"/api/movies/theaters/{theater['id']}", headers=admin)
    assert gone.status_code == 204
    assert theater["id"] not in await listed(api, "/api/movies/theaters")
    assert theater["id"] in await listed(api, "/api/movies/theaters", include_inactive="true")
    assert show["id"] not in await listed(api, "/api/movies/showtimes")
    assert (await api.get(f"/api/movies/theaters/{theater['id']}")).json()["is_active"] is False
    refused = await api.post(
        "/api/movies/showtimes",
        json={
            "movie_id": movie["id"],
            "theater_id": theater["id"],
            "show_date": future_day(5),
            "show_time": "10:00",
            "price": "90000",
        },
        headers=admin,
    )
    assert refused.status_code == 409 and "not active" in refused.json()["detail"]


async def test_a_showtime_is_repriced_moved_and_deactivated(api, admin):
    movie = await create_movie(api, admin, duration_minutes=100)
    theater = await create_theater(api, admin)
    show = await create_showtime(api, admin, movie, theater, show_time="10:00:00")
    other = await create_showtime(api, admin, movie, theater, show_time="18:00:00")
    path = f"/api/movies/showtimes/{show['id']}"

    repriced = await api.put(path, json={"price": "95000"}, headers=admin)
    assert repriced.status_code == 200, repriced.text
    assert float(repriced.json()["price"]) == 95000

    later = await api.put(path, json={"show_time": "13:15"}, headers=admin)
    assert later.status_code == 200, later.text
    assert later.json()["show_time"] == "13:15:00"
    assert later.json()["starts_at"] != show["starts_at"]
    # the same rules as a new showtime: no overlap, not in the past
    clash = await api.put(path, json={"show_time": "17:00"}, headers=admin)
    assert clash.status_code == 409 and clash.json()["conflicting_showtime_id"] == other["id"]
    yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    past = await api.put(path, json={"show_date": yesterday}, headers=admin)
    assert past.status_code == 400
    for bad in ({"price": "-1"}, {"price": "lots"}, {"show_time": None}, {"room": "B"}):
        assert (await api.put(path, json=bad, headers=admin)).status_code in (400, 422), bad

    assert show["id"] in await listed(api, "/api/movies/showtimes")
    gone = await api.delete(path, headers=admin)
    assert gone.status_code == 204
    assert show["id"] not in await listed(api, "/api/movies/showtimes")
    assert show["id"] not in await listed(api, "/api/movies/showtimes", movie_id=movie["id"])
    assert show["id"] in await listed(api, "/api/movies/showtimes", include_inactive="true")
    still = await api.get(path)
    assert still.status_code == 200 and still.json()["is_active"] is False
    assert other["id"] in await listed(api, "/api/movies/showtimes")


async def test_only_admins_change_theaters_and_showtimes(api, admin, customer, token_for):
    staff = bearer(token_for("staff"))
    movie = await create_movie(api, admin)
    theater = await create_theater(api, admin)
    show = await create_showtime(api, admin, movie, theater)
    for who in (customer, staff):
        for method, path, body in (
            ("PUT", f"/api/movies/theaters/{theater['id']}", {"name": "Mine"}),
            ("DELETE", f"/api/movies/theaters/{theater['id']}", None),
            ("PUT", f"/api/movies/showtimes/{show['id']}", {"price": "1000"}),
            ("DELETE", f"/api/movies/showtimes/{show['id']}", None),
        ):
            response = await api.request(method, path, json=body, headers=who)
            assert response.status_code == 403, (method, path, response.text)
    for method, path in (
        ("PUT", "/api/movies/theaters/00000000-0000-0000-0000-000000000000"),
        ("DELETE", "/api/movies/showtimes/00000000-0000-0000-0000-000000000000"),
    ):
        response = await api.request(
            method, path, json={"name": "x"} if method == "PUT" else None, headers=admin
        )
        assert response.status_code == 404, response.text


async def test_a_showtime_with_booked_seats_keeps_its_time_but_takes_a_new_price(api, admin):
    movie = await create_movie(api, admin)
    theater = await create_theater(api, admin)
    show = await create_showtime(api, admin, movie, theater)
    path = f"/api/movies/showtimes/{show['id']}"
    await publish_and_wait(api, [booking_event("booking.created", uuid.uuid4(), show, 2)])

    moved = await api.put(path, json={"show_time": "21:45"}, headers=admin)
    assert moved.status_code == 409 and "booked" in moved.json()["detail"]
    same_time = await api.put(
        path, json={"show_time": show["show_time"], "price": "150000"}, headers=admin
    )
    assert same_time.status_code == 200, same_time.text
    assert float(same_time.json()["price"]) == 150000


async def test_a_write_naming_no_row_is_404_and_a_caller_who_may_not_is_refused_first(
    api, admin, customer
):
    unknown = uuid.uuid4()
    writes = (
        ("movies", {"title": "X"}, "Movie not found"),
        ("theaters", {"name": "X"}, "Theater not found"),
        ("showtimes", {"price": "1000"}, "Showtime not found"),
    )
    for kind, body, detail in writes:
        path = f"/api/movies/{kind}/{unknown}"
        for method in ("PUT", "DELETE"):
            sent = body if method == "PUT" else None
            response = await api.request(method, path, json=sent, headers=admin)
            assert response.status_code == 404, (method, path, response.text)
            assert response.json()["detail"] == detail
            assert response.json()["error_type"] == "NotFoundError"
            # Whether the row exists is nobody else's business.
            refused = await api.request(method, path, json=sent, headers=customer)
            assert refused.status_code == 403, (method, path, refused.text)
            assert (await api.request(method, path, json=sent)).status_code == 401
