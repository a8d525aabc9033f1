"""PostgreSQL URLs in the forms providers hand out work like the asyncpg form."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import text

from boxoffice.cli.distributed import check_dependencies
from boxoffice.core.db import drop_database, make_engine
from boxoffice.core.migrations import migrate, pending
from boxoffice.settings import Settings
from tests.conftest import POSTGRES_URL

ASYNCPG = "postgresql+asyncpg://bo:secret@db.example:5432/postgres"
FORMS = [
    "postgres://bo:secret@db.example:5432/postgres",
    "postgresql://bo:secret@db.example:5432/postgres",
    "postgresql+psycopg2://bo:secret@db.example:5432/postgres",
    ASYNCPG,
]


def _plain(url: str, scheme: str = "postgresql") -> str:
    """The test server's URL under another scheme (as an operator would write it)."""
    return f"{scheme}://{url.partition('://')[2]}"


@pytest.mark.parametrize("url", FORMS)
def test_every_postgres_form_becomes_the_asyncpg_one(
    url: str, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings("postgres", postgres_url=url, database_url=url)
    assert settings.postgres_url == ASYNCPG
    assert settings.database_url == ASYNCPG
    assert settings.model_copy(update={"database_url": None}).database_url_for("movie") == (
        f"postgresql+asyncpg://bo:secret@db.example:5432/{settings.db_prefix}movies_db"
    )


def test_sqlite_urls_are_left_alone(make_settings: Callable[..., Settings]) -> None:
    url = "sqlite+aiosqlite:///:memory:"
    assert make_settings(database_url=url).database_url == url


@pytest.mark.distributed
@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
async def test_the_distributed_start_reaches_postgres_through_a_plain_url(
    scheme: str, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings("postgres", postgres_url=_plain(POSTGRES_URL, scheme))
    problems = await check_dependencies(settings)
    assert not [p for p in problems if "PostgreSQL" in p], problems


@pytest.mark.distributed
async def test_engines_and_migrations_take_a_plain_url(
    make_settings: Callable[..., Settings],
) -> None:
    prefix = make_settings.prefix  # type: ignore[attr-defined]
    url = _plain(POSTGRES_URL.rsplit("/", 1)[0], "postgres") + f"/{prefix}movies_db"
    engine = make_engine(_plain(POSTGRES_URL, "postgres"))
    try:
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT 1")) == 1
    finally:
        await engine.dispose()
    try:
        await migrate("boxoffice.movie", url)
        assert await pending("boxoffice.movie", url) is None
    finally:
        await drop_database(url)


def test_core_knows_no_service_the_joined_settings_name_their_databases_and_urls(tmp_path) -> None:
    """Which services there are is the composition's knowledge: a bare CoreSettings has no
    database name or base URL for any service; the joined Settings has all five's."""
    from boxoffice.core.settings import CoreSettings
    from boxoffice.topology import DATABASE_NAMES, SERVICE_NAMES

    values = {"BOXOFFICE_MODE": "embedded", "BOXOFFICE_DATA_DIR": tmp_path, "database_url": None}
    values |= {"BOXOFFICE_DB_PREFIX": "x_"}
    core = CoreSettings(_env_file=None, **values)  # type: ignore[call-arg]
    with pytest.raises(KeyError, match="movie"):
        core.database_url_for("movie")
    with pytest.raises(KeyError, match="movie"):
        core.service_url("movie")
    urls = {f"{name}_service_url": f"http://{name}.example:1/" for name in SERVICE_NAMES}
    joined = Settings(_env_file=None, **values, **urls)  # type: ignore[call-arg]
    for name in SERVICE_NAMES:
        assert joined.database_url_for(name).endswith(f"/x_{DATABASE_NAMES[name]}.sqlite3")
        assert joined.service_url(name) == f"http://{name}.example:1"
