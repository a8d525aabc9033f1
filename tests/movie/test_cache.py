"""Catalog reads are cached; a write shows at once; a cache that is down is only skipped."""

from __future__ import annotations

import socket
import uuid

import sqlalchemy as sa
from prometheus_client import REGISTRY
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from boxoffice.core.kv import RedisCache
from boxoffice.movie.models import Movie
from tests.movie.conftest import movie_context
from tests.movie.factories import create_movie, create_showtime, create_theater


def counted(kind: str) -> tuple[float, float]:
    """(hits, misses) of one movie cache so far."""
    labels = {"service": "movie", "cache": kind}
    hits = REGISTRY.get_sample_value("cache_hits_total", labels) or 0.0
    misses = REGISTRY.get_sample_value("cache_misses_total", labels) or 0.0
    return hits, misses


async def test_the_second_read_of_each_catalog_answer_is_a_cache_hit(api, admin):
    movie = await create_movie(api, admin)
    hall = await create_theater(api, admin)
    showtime = await create_showtime(api, admin, movie, hall)
    reads = {
        "movie_list": "/api/movies/movies?genre=drama",
        "movie": f"/api/movies/movies/{movie['id']}",
        "theater_list": "/api/movies/theaters",
        "theater": f"/api/movies/theaters/{hall['id']}",
        "seats": f"/api/movies/seats/{hall['id']}",
        "showtime_list": f"/api/movies/showtimes?movie_id={movie['id']}",
        "showtime": f"/api/movies/showtimes/{showtime['id']}",
    }
    for kind, url in reads.items():
        hits, misses = counted(kind)
        first = await api.get(url)
        assert counted(kind) == (hits, misses + 1), kind
        second = await api.get(url)
        assert counted(kind) == (hits + 1, misses + 1), kind
        assert first.status_code == second.status_code == 200
        assert first.json() == second.json()


async def test_a_write_shows_in_the_very_next_read(api, admin):
    movie = await create_movie(api, admin, title="Working Title")
    hall = await create_theater(api, admin, city="Hanoi")
    await create_showtime(api, admin, movie, hall, show_time="10:00")
    movie_url = f"/api/movies/movies/{movie['id']}"
    for url in (movie_url, "/api/movies/movies", "/api/movies/showtimes", "/api/movies/theaters"):
        await api.get(url)
        await api.get(url)  # cached now

    await api.put(movie_url, json={"title": "Final Title"}, headers=admin)
    assert (await api.get(movie_url)).json()["title"] == "Final Title"
    assert [m["title"] for m in (await api.get("/api/movies/movies")).json()] == ["Final Title"]
    listed = (await api.get("/api/movies/showtimes")).json()
    assert [s["movie_title"] for s in listed] == ["Final Title"]

    await create_showtime(api, admin, movie, hall, show_time="14:00")
    times = [s["show_time"] for s in (await api.get("/api/movies/showtimes")).json()]
    assert times == ["10:00:00", "14:00:00"]

    second_hall = await create_theater(api, admin, city="Hanoi")
    theaters = (await api.get("/api/movies/theaters")).json()
    assert {t["id"] for t in theaters} == {hall["id"], second_hall["id"]}

    await api.delete(movie_url, headers=admin)
    assert (await api.get("/api/movies/movies")).json() == []
    assert (await api.get("/api/movies/showtimes")).json() == []


async def test_with_the_cache_unreachable_the_catalog_still_answers(api, admin):
    movie = await create_movie(api, admin, title="Still Here")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    # Few retries keep the test short; the service skips the cache after the first failure.
    unreachable = Redis(
        host="127.0.0.1", port=closed_port, socket_connect_timeout=1, retry=Retry(NoBackoff(), 1)
    )
    runtime = api.runtime
    working, runtime.cache = runtime.cache, RedisCache(unreachable, "unreachable:")
    try:
        listed = await api.get("/api/movies/movies")
        assert [m["title"] for m in listed.json()] == ["Still Here"]
        renamed = await api.put(
            f"/api/movies/movies/{movie['id']}", json={"title": "Renamed"}, headers=admin
        )
        assert renamed.status_code == 200
        assert (await api.get(f"/api/movies/movies/{movie['id']}")).json()["title"] == "Renamed"
    finally:
        runtime.cache = working
        await unreachable.aclose()


class _WitnessCache:
    """The real cache, plus a look at the database whenever a namespace version is bumped."""

    def __init__(self, inner, look) -> None:
        self._inner, self._look, self.seen = inner, look, []

    async def get(self, key):
        return await self._inner.get(key)

    async def set(self, key, value, ttl_seconds):
        await self._inner.set(key, value, ttl_seconds)

    async def delete(self, key):
        await self._inner.delete(key)

    async def incr(self, key):
        self.seen.append(await self._look())
        return await self._inner.incr(key)


async def test_the_cache_is_invalidated_only_after_the_write_committed(api, admin):
    movie = await create_movie(api, admin, title="Before")
    ctx = movie_context(api)

    async def committed_title() -> str:
        # Another connection sees only what is committed.
        async with ctx.db.sessionmaker() as session:
            return await session.scalar(
                sa.select(Movie.title).where(Movie.id == uuid.UUID(movie["id"]))
            )

    runtime = api.runtime
    witness = _WitnessCache(runtime.cache, committed_title)
    working, runtime.cache = runtime.cache, witness
    try:
        await api.put(f"/api/movies/movies/{movie['id']}", json={"title": "After"}, headers=admin)
    finally:
        runtime.cache = working
    assert witness.seen and set(witness.seen) == {"After"}
