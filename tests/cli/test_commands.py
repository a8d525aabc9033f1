"""The run commands refuse what cannot work with a clear message, and `migrate` prepares the
databases of the configured mode."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest
import structlog
from typer.testing import CliRunner

from boxoffice.cli import app
from tests.conftest import POSTGRES_URL, drop_databases_with_prefix
from tests.e2e.system import free_ports

runner = CliRunner()
TABLES = ("movies", "theaters", "seats", "showtimes")


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A clean environment for the command: its own data dir, no BOXOFFICE_* from outside."""
    # Set, not deleted, so monkeypatch restores them even though `serve` writes BOXOFFICE_MODE.
    monkeypatch.setenv("BOXOFFICE_MODE", "embedded")
    for name in ("BOXOFFICE_DB_PREFIX", "SECRET_KEY", "DATABASE_URL"):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BOXOFFICE_DATA_DIR", str(tmp_path / "data"))
    # `serve` points the logs at the stderr the runner lends it, closed once it returns: later
    # tests of this process must not log there.
    logging = structlog.get_config()
    yield tmp_path
    structlog.configure(**logging)


def test_embedded_mode_refuses_more_than_one_worker(env):
    result = runner.invoke(app, ["up", "--workers", "2"])
    assert result.exit_code == 1
    assert "embedded mode runs in one process" in result.output
    assert "--distributed" in result.output


def test_serve_needs_a_secret_key(env):
    result = runner.invoke(app, ["serve", "auth"])
    assert result.exit_code == 1
    assert "SECRET_KEY must be set" in result.output


def test_serve_names_the_services_it_knows(env):
    result = runner.invoke(app, ["serve", "popcorn"])
    assert result.exit_code == 1
    assert "unknown service 'popcorn'" in result.output
    assert "auth, movie, booking, payment, notification, web" in result.output


def test_an_invalid_setting_is_a_clear_error_not_a_traceback(env, monkeypatch):
    monkeypatch.setenv("ACCESS_TOKEN_EXPIRE_MINUTES", "soon")
    result = runner.invoke(app, ["migrate"])
    assert result.exit_code == 1
    assert "invalid configuration: access_token_expire_minutes" in result.output


def test_a_rate_limit_that_is_not_a_rate_is_a_clear_error(env, monkeypatch):
    monkeypatch.setenv("RATE_LIMIT_BOOKING", "10/fortnight")
    result = runner.invoke(app, ["up"])
    assert result.exit_code == 1
    assert "RATE_LIMIT_BOOKING must look like 60/minute" in result.output


def test_migrate_creates_every_embedded_database_and_can_run_again(env):
    first = runner.invoke(app, ["migrate"])
    assert first.exit_code == 0, first.output
    names = {p.name for p in (env / "data").glob("*.sqlite3")}
    assert {
        "auth_db.sqlite3",
        "movies_db.sqlite3",
        "bookings_db.sqlite3",
        "payments_db.sqlite3",
        "notifications_db.sqlite3",
    } <= names
    again = runner.invoke(app, ["migrate", "auth"])
    assert again.exit_code == 0, again.output
    assert "auth: migrated" in again.output


def test_migrate_creates_a_missing_postgresql_database(env, monkeypatch):
    prefix = f"tcli{env.name[-6:].lower()}_"
    monkeypatch.setenv("BOXOFFICE_MODE", "distributed")
    monkeypatch.setenv("POSTGRES_URL", POSTGRES_URL)
    monkeypatch.setenv("BOXOFFICE_DB_PREFIX", prefix)
    try:
        result = runner.invoke(app, ["migrate", "auth"])
        assert result.exit_code == 0, result.output
        assert f"{prefix}auth_db" in result.output
    finally:
        asyncio.run(drop_databases_with_prefix(prefix))


def test_migrate_says_which_database_it_could_not_reach(env, monkeypatch):
    monkeypatch.setenv("BOXOFFICE_MODE", "distributed")
    monkeypatch.setenv("POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:1/postgres")
    result = runner.invoke(app, ["migrate", "movie"])
    assert result.exit_code == 1
    assert "movie: cannot migrate its database at postgresql+asyncpg://" in result.output
    assert "127.0.0.1:1/movies_db" in result.output


def test_migrate_refuses_to_put_every_service_in_the_one_database_url(env, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:1/auth_db")
    result = runner.invoke(app, ["migrate"])
    assert result.exit_code == 1
    assert "DATABASE_URL is one service's database: name it" in result.output


def test_serve_only_checks_the_database_and_migrate_check_says_when_it_is_ready(env, monkeypatch):
    """A replica does not migrate: it refuses a database the migration has not reached yet, and
    an init container can wait for that migration with `migrate --check --wait`."""
    prefix = f"tcli{env.name[-6:].lower()}_"
    monkeypatch.setenv("BOXOFFICE_MODE", "distributed")
    monkeypatch.setenv("POSTGRES_URL", POSTGRES_URL)
    monkeypatch.setenv("BOXOFFICE_DB_PREFIX", prefix)
    monkeypatch.setenv("SECRET_KEY", "k" * 40)
    port = str(free_ports(1))
    try:
        served = runner.invoke(app, ["serve", "auth", "--host", "127.0.0.1", "--port", port])
        assert served.exit_code == 1
        assert "auth: its database at postgresql+asyncpg://" in served.output
        assert "boxoffice migrate auth" in served.output
        assert "--migrate" in served.output

        waited = runner.invoke(app, ["migrate", "auth", "--check", "--wait", "1"])
        assert waited.exit_code == 1
        assert f"{prefix}auth_db cannot be reached" in waited.output
        assert "after 1 s" in waited.output

        assert runner.invoke(app, ["migrate", "auth"]).exit_code == 0
        checked = runner.invoke(app, ["migrate", "auth", "--check", "--wait", "60"])
        assert checked.exit_code == 0, checked.output
        assert "auth: up to date" in checked.output
    finally:
        asyncio.run(drop_databases_with_prefix(prefix))


def test_demo_data_loads_the_catalog_once_however_often_it_runs(env):
    def counts():
        with sqlite3.connect(env / "data" / "movies_db.sqlite3") as db:
            return [db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES]

    result = runner.invoke(app, ["demo-data"])
    assert result.exit_code == 0, result.output
    loaded = counts()
    assert all(n > 0 for n in loaded)
    again = runner.invoke(app, ["demo-data"])
    assert again.exit_code == 0, again.output
    assert counts() == loaded
