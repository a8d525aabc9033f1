"""The live seat map: every seat of a showtime with what it is right now."""

from __future__ import annotations

import socket
import uuid

from tests.conftest import bearer, running_system
from tests.movie.conftest import eventually
from tests.movie.factories import create_movie, create_showtime, create_theater


async def _showtime(api, admin, **theater) -> tuple[dict, list[dict]]:
    movie = await create_movie(api, admin)
    hall = await create_theater(api, admin, **theater)
    showtime = await create_showtime(api, admin, movie, hall)
    seats = (await api.get(f"/api/movies/seats/{hall['id']}")).json()
    return showtime, seats


def statuses(seat_map: dict) -> dict[str, str]:
    return {s["id"]: s["status"] for s in seat_map["seats"]}


async def test_a_new_showtime_shows_every_seat_available(api, admin):
    showtime, seats = await _showtime(api, admin, rows=3, seats_per_row=4, vip_rows=["C"])
    response = await api.get(f"/api/movies/showtimes/{showtime['id']}/available-seats")
    assert response.status_code == 200
    body = response.json()
    assert body["showtime_id"] == showtime["id"]
    assert body["total_seats"] == body["available_count"] == 12
    assert [{k: v for k, v in s.items() if k != "status"} for s in body["seats"]] == seats
    assert set(statuses(body).values()) == {"available"}


async def test_holds_show_as_mine_to_the_holder_and_held_to_everyone_else(api, admin, token_for):
    showtime, seats = await _showtime(api, admin, rows=2, seats_per_row=5)
    alice, bob = bearer(token_for("customer")), bearer(token_for("customer"))
    picked = [seats[0]["id"], seats[1]["id"]]
    hold = await api.post(
        "/api/bookings/seats/hold",
        json={"showtime_id": showtime["id"], "seat_ids": picked},
        headers=alice,
    )
    assert hold.status_code in (200, 201), hold.text
    url = f"/api/movies/showtimes/{showtime['id']}/available-seats"

    as_alice = (await api.get(url, headers=alice)).json()
    as_bob = (await api.get(url, headers=bob)).json()
    anonymous = (await api.get(url)).json()
    assert [statuses(as_alice)[s] for s in picked] == ["mine", "mine"]
    assert [statuses(as_bob)[s] for s in picked] == ["held", "held"]
    assert [statuses(anonymous)[s] for s in picked] == ["held", "held"]
    for seat_map in (as_alice, as_bob, anonymous):
        assert seat_map["available_count"] == 8
        others = {k: v for k, v in statuses(seat_map).items() if k not in picked}
        assert set(others.values()) == {"available"}


async def test_a_booked_seat_shows_as_booked_and_leaves_the_showtimes_count(api, admin, token_for):
    showtime, seats = await _showtime(api, admin, rows=1, seats_per_row=6)
    buyer = bearer(token_for("customer"))
    picked = [seats[2]["id"]]
    selection = {"showtime_id": showtime["id"], "seat_ids": picked}
    await api.post("/api/bookings/seats/hold", json=selection, headers=buyer)
    booked = await api.post("/api/bookings/book", json=selection, headers=buyer)
    assert booked.status_code == 201, booked.text
    seat_map = (await api.get(f"/api/movies/showtimes/{showtime['id']}/available-seats")).json()
    assert statuses(seat_map)[picked[0]] == "booked"
    assert seat_map["available_count"] == 5

    # booking.created reaches the movie service through the event bus.
    async def showtime_counts_five() -> bool:
        response = await api.get(f"/api/movies/showtimes/{showtime['id']}")
        return response.json()["available_seats"] == 5

    await eventually(showtime_counts_five)


async def test_unknown_showtime_404_malformed_400_and_a_bad_token_401(api):
    base = "/api/movies/showtimes"
    unknown = await api.get(f"{base}/{uuid.uuid4()}/available-seats")
    assert unknown.status_code == 404
    assert (await api.get(f"{base}/not-an-id/available-seats")).status_code == 400
    forged = await api.get(f"{base}/{uuid.uuid4()}/available-seats", headers=bearer("not.a.token"))
    assert forged.status_code == 401
    assert forged.json()["error_type"] == "AuthenticationError"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_with_booking_down_the_seat_map_is_a_503_and_the_catalog_still_answers(
    backend, make_settings, admin
):
    settings = make_settings(
        backend, booking_service_url=f"http://127.0.0.1:{_closed_port()}", http_retries=1
    )
    async with running_system(settings, services=("movie",)) as api:
        showtime, _ = await _showtime(api, admin)
        response = await api.get(f"/api/movies/showtimes/{showtime['id']}/available-seats")
        assert response.status_code == 503
        assert response.json()["error_type"] == "ServiceUnavailable"
        assert set(response.json()) == {"detail", "status_code", "error_type"}
        assert (await api.get(f"/api/movies/showtimes/{showtime['id']}")).status_code == 200
