"""The demo catalog: loaded at start when enabled, and loading it again changes nothing."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal

from boxoffice.movie.demo import load_demo_data, today_in_vietnam
from tests.conftest import running_system
from tests.movie.conftest import SERVICES, movie_context


async def catalog(api, include_started: bool = False) -> dict[str, list[dict]]:
    """Everything a visitor can list (with `include_started`, also the shows that started)."""
    movies = (await api.get("/api/movies/movies", params={"limit": 200})).json()
    theaters = (await api.get("/api/movies/theaters", params={"limit": 200})).json()
    params = {"limit": 200, "include_started": str(include_started).lower()}
    showtimes = (await api.get("/api/movies/showtimes", params=params)).json()
    return {"movies": movies, "theaters": theaters, "showtimes": showtimes}


async def test_the_demo_catalog_is_loaded_at_start_and_looks_like_a_cinema(backend, make_settings):
    settings = make_settings(backend, BOXOFFICE_DEMO_DATA=True)
    async with running_system(settings, services=SERVICES) as api:
        shown = await catalog(api)
        assert 6 <= len(shown["movies"]) <= 10
        assert all(m["poster_url"].startswith("/static/posters/") for m in shown["movies"])
        cities = sorted(t["city"] for t in shown["theaters"])
        assert cities == ["Hanoi", "Hanoi", "Ho Chi Minh City"]
        for theater in shown["theaters"]:
            seats = (await api.get(f"/api/movies/seats/{theater['id']}")).json()
            assert len(seats) == theater["total_seats"]
            assert any(s["seat_type"] == "vip" for s in seats)
            assert any(s["aisle_after"] for s in seats)

        assert all(t["timezone"] == "Asia/Ho_Chi_Minh" for t in shown["theaters"])
        today = today_in_vietnam()
        days = {dt.date.fromisoformat(s["show_date"]) for s in shown["showtimes"]}
        # Today's slots that have already started are not added (late in the day: none).
        assert days - {today} == {today + dt.timedelta(days=n) for n in range(1, 7)}
        now = dt.datetime.now(dt.UTC)
        for showtime in shown["showtimes"]:
            assert dt.datetime.fromisoformat(showtime["starts_at"]) > now
            assert Decimal("90000") <= Decimal(showtime["price"]) <= Decimal("150000")
            assert dt.time(9) <= dt.time.fromisoformat(showtime["show_time"]) <= dt.time(22)
            assert showtime["available_seats"] == showtime["total_seats"]


async def test_loading_the_demo_again_changes_nothing_and_keeps_admin_edits(api, admin):
    ctx = movie_context(api)
    first_counts = await load_demo_data(ctx)
    first = await catalog(api)
    movie = first["movies"][0]
    renamed = await api.put(
        f"/api/movies/movies/{movie['id']}", json={"title": "Renamed By Admin"}, headers=admin
    )
    assert renamed.status_code == 200

    assert await load_demo_data(ctx) == first_counts
    again = await catalog(api)
    assert sorted(m["id"] for m in again["movies"]) == sorted(m["id"] for m in first["movies"])
    assert [s["id"] for s in again["showtimes"]] == [s["id"] for s in first["showtimes"]]
    assert [t["id"] for t in again["theaters"]] == [t["id"] for t in first["theaters"]]
    titles = {m["id"]: m["title"] for m in again["movies"]}
    assert titles[movie["id"]] == "Renamed By Admin"


async def test_two_processes_loading_the_demo_at_once_load_it_once(api):
    ctx = movie_context(api)
    results = await asyncio.gather(load_demo_data(ctx), load_demo_data(ctx), load_demo_data(ctx))
    assert results[0] == results[1] == results[2]
    assert results[0]["showtimes"] == len((await catalog(api, include_started=True))["showtimes"])
    assert results[0]["seats"] == sum(t["total_seats"] for t in (await catalog(api))["theaters"])
