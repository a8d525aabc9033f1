"""Reading the services' databases for the checks: plain SQL on short-lived engines.

The checker is an outside reader, often of a running system: NullPool (no connection outlives
its query), nothing is written, and an embedded system's SQLite file that is not there is an
error rather than a new empty database.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.engine import Row, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.types import TypeEngine

from boxoffice.core.dburl import async_database_url

# Seconds to wait for a database server (or a locked SQLite file) before giving up on it.
CONNECT_TIMEOUT = 10


class SourceUnreadable(Exception):
    """A database (or the event bus) could not be opened or read: down, missing, unmigrated."""

    def __init__(self, source: str, where: str, reason: str) -> None:
        super().__init__(f"{source}: cannot read {where}: {reason}")
        self.source = source
        self.where = where
        self.reason = reason


def redact(url: str) -> str:
    """A database URL fit for a message: its password hidden."""
    return make_url(url).render_as_string(hide_password=True)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        exc = exc.orig
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _engine(service: str, url: str) -> AsyncEngine:
    url = async_database_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database or ""
        if not path or path == ":memory:" or not Path(path).is_file():
            raise SourceUnreadable(service, redact(url), "no such database file")
    return create_async_engine(url, poolclass=NullPool, connect_args={"timeout": CONNECT_TIMEOUT})


class ServiceDatabases:
    """Each service's database by service name, opened on first use and closed together."""

    def __init__(self, urls: Mapping[str, str]) -> None:
        self.urls = dict(urls)
        self._engines: dict[str, AsyncEngine] = {}

    def _engine(self, service: str) -> AsyncEngine:
        if service not in self._engines:
            self._engines[service] = _engine(service, self.urls[service])
        return self._engines[service]

    async def rows(
        self,
        service: str,
        sql: str,
        columns: Mapping[str, TypeEngine[Any] | type[TypeEngine[Any]]] | None = None,
        **params: Any,
    ) -> list[Row[Any]]:
        """The rows of one query on a service's database; `columns` types the results that
        need converting (UUIDs and times are text on SQLite), as typed `sa.bindparam`s do for
        parameters."""
        statement = text(sql)
        # Parameters that need converting (times on SQLite) come as typed bind parameters.
        typed = [value for value in params.values() if isinstance(value, BindParameter)]
        if typed:
            statement = statement.bindparams(*typed)
            params = {k: v for k, v in params.items() if not isinstance(v, BindParameter)}
        if columns:
            statement = statement.columns(**columns)  # type: ignore[assignment]
        with self._unreadable(service):
            async with self._engine(service).connect() as conn:
                return list((await conn.execute(statement, params)).all())

    async def has_table(self, service: str, table: str) -> bool:
        with self._unreadable(service):
            async with self._engine(service).connect() as conn:
                return bool(await conn.run_sync(lambda sync: inspect(sync).has_table(table)))

    @contextlib.contextmanager
    def _unreadable(self, service: str) -> Any:
        try:
            yield
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            raise SourceUnreadable(service, redact(self.urls[service]), _reason(exc)) from exc

    async def aclose(self) -> None:
        engines, self._engines = list(self._engines.values()), {}
        for engine in engines:
            await engine.dispose()

    async def __aenter__(self) -> ServiceDatabases:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
