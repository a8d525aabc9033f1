"""Database URLs in the one form the services' engines use (asyncpg for PostgreSQL)."""

from __future__ import annotations

# The schemes a provider or operator hands out for PostgreSQL (`postgres://` is Heroku's and
# libpq's short form; SQLAlchemy knows only `postgresql`), and the sync drivers' forms.
_POSTGRES_SCHEMES = frozenset(
    {"postgres", "postgresql", "postgresql+psycopg", "postgresql+psycopg2", "postgresql+pg8000"}
)
ASYNC_POSTGRES_SCHEME = "postgresql+asyncpg"


def async_database_url(url: str) -> str:
    """The URL with a PostgreSQL scheme turned into `postgresql+asyncpg`; others as given.

    `postgresql://` would make SQLAlchemy look for psycopg2 (not installed) and `postgres://`
    names no dialect at all: both used to end as "PostgreSQL unreachable".
    """
    scheme, sep, rest = url.partition("://")
    if sep and scheme.lower() in _POSTGRES_SCHEMES:
        return f"{ASYNC_POSTGRES_SCHEME}://{rest}"
    return url
