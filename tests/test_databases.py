"""The test base (tests/databases.py): a test's system runs on migrated databases lent by the
session's pool, and never sees what an earlier test left in them."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
import sqlalchemy as sa

from boxoffice.core.events import OutboxEvent
from boxoffice.settings import Settings
from tests.conftest import bearer, running_system
from tests.databases import POOL, PooledSettings

MOVIE = {"title": "Isolation", "duration_minutes": 90, "genre": "Drama"}


async def _movies_and_outbox(api: httpx.AsyncClient) -> tuple[int, list[int]]:
    db = api.app.state.service_apps["movie"].state.ctx.db  # type: ignore[attr-defined]
    async with db.engine.connect() as conn:
        movies = await conn.scalar(sa.text("SELECT count(*) FROM movies"))
        positions = (await conn.execute(sa.select(OutboxEvent.position))).scalars().all()
    return int(movies or 0), list(positions)


async def test_a_later_system_starts_on_empty_tables_whatever_an_earlier_one_left(
    backend: str, make_settings: Callable[..., Settings], token_for: Callable[..., str]
) -> None:
    admin = bearer(token_for("admin"))
    first, second = make_settings(backend), make_settings(backend)
    # Two tests' settings: the same data dir here (one tmp_path), so give the second its own.
    second = second.model_copy(update={"db_prefix": first.db_prefix + "b_"})
    urls = []
    for settings in (first, second):
        async with running_system(settings, services=("movie",)) as api:
            assert await _movies_and_outbox(api) == (0, [])
            created = await api.post("/api/movies/movies", json=MOVIE, headers=admin)
            assert created.status_code == 201, created.text
            movies, positions = await _movies_and_outbox(api)
            # Ids and positions start again too, as on a freshly migrated database.
            assert movies == 1 and positions in ([], [1]), positions
            urls.append(api.app.state.service_apps["movie"].state.ctx.db.url)
    if backend == "postgres":
        assert urls[0] == urls[1]  # the same database, lent again, emptied
        assert POOL.pool_prefix in urls[0]
        assert first.db_prefix not in urls[0]


async def test_two_systems_on_one_settings_share_their_databases(
    make_settings: Callable[..., Settings], token_for: Callable[..., str]
) -> None:
    settings = make_settings("postgres")
    assert isinstance(settings, PooledSettings)
    admin = bearer(token_for("admin"))
    async with running_system(settings, services=("movie",)) as one:
        async with running_system(settings, services=("movie",)) as two:
            created = await one.post("/api/movies/movies", json=MOVIE, headers=admin)
            assert created.status_code == 201, created.text
            assert (await _movies_and_outbox(two))[0] == 1
        # The first system still runs on its databases after the second stopped.
        assert (await _movies_and_outbox(one))[0] == 1
    assert POOL.lent_database(settings, "movie") is None


@pytest.mark.own_databases
async def test_a_test_marked_own_databases_runs_on_databases_named_by_its_prefix(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings("postgres")
    assert not isinstance(settings, PooledSettings)
    async with running_system(settings, services=("movie",)) as api:
        url = api.app.state.service_apps["movie"].state.ctx.db.url
        assert url.endswith(f"/{settings.db_prefix}movies_db")


async def test_a_database_whose_schema_a_test_changed_is_not_lent_again(
    make_settings: Callable[..., Settings],
) -> None:
    first, second = make_settings("postgres"), make_settings("postgres")
    second = second.model_copy(update={"db_prefix": first.db_prefix + "b_"})
    async with running_system(first, services=("movie",)) as api:
        db = api.app.state.service_apps["movie"].state.ctx.db  # type: ignore[attr-defined]
        async with db.engine.begin() as conn:
            await conn.execute(sa.text("DROP INDEX ix_showtimes_show_date_show_time"))
        changed = db.url
    async with running_system(second, services=("movie",)) as api:
        db = api.app.state.service_apps["movie"].state.ctx.db  # type: ignore[attr-defined]
        assert db.url != changed
        async with db.engine.connect() as conn:
            indexes = await conn.scalars(sa.text("SELECT indexname FROM pg_indexes"))
            assert "ix_showtimes_show_date_show_time" in set(indexes)
