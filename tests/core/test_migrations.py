"""`pending` tells a replica whether its database has this version's schema: it never migrates,
it only asks (migrating is one step of a deployment, run once)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import boxoffice.movie
from boxoffice.core.migrations import migrate, pending

# The movie service's newest revision: its migration files are named 0001_..., 0002_...
_VERSIONS = Path(boxoffice.movie.__file__).parent / "migrations" / "versions"
MOVIE_HEAD = max(p.name[:4] for p in _VERSIONS.glob("0*.py"))


def sqlite_url(tmp_path, name: str = "movies_db") -> str:
    return f"sqlite+aiosqlite:///{tmp_path / name}.sqlite3"


async def test_a_database_never_migrated_is_named_as_such(tmp_path):
    assert await pending("boxoffice.movie", sqlite_url(tmp_path)) == "not migrated yet"


async def test_a_database_one_revision_behind_says_which_it_is_at_and_which_is_needed(tmp_path):
    url = sqlite_url(tmp_path)
    await migrate("boxoffice.movie", url, revision="0001")
    assert await pending("boxoffice.movie", url) == f"at 0001, this version needs {MOVIE_HEAD}"
    await migrate("boxoffice.movie", url)
    assert await pending("boxoffice.movie", url) is None


async def test_a_database_a_newer_version_migrated_is_good_enough_for_this_one(tmp_path):
    """A rolling update: the new version's job migrated, an old replica restarts meanwhile."""
    url = sqlite_url(tmp_path)
    await migrate("boxoffice.movie", url)
    with sqlite3.connect(tmp_path / "movies_db.sqlite3") as db:
        db.execute("UPDATE alembic_version SET version_num = '0004'")
    assert await pending("boxoffice.movie", url) is None
