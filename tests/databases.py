"""The test base's databases: each service's schema migrated once per session, lent to a test's
running system and wiped (TRUNCATE) when it gives them back, as Polar's test base does.

PostgreSQL: the pool keeps migrated databases per service (`tpool<id>_<n>_<service db>`); a
system borrows one per service for as long as it runs (two systems of one test on the same
settings share them), and its settings (`PooledSettings`) then name them. Before a database
is lent again every table but `alembic_version` is emptied (TRUNCATE ... RESTART IDENTITY: ids
and positions start again), so each test finds what a fresh migration leaves. A database whose
schema a test changed (its fingerprint differs from the migrated one's), or that cannot be
emptied, is dropped, not lent again. The pool's databases are dropped at the session's end.

SQLite: a migrated file per service is copied into the test's data dir before its system
starts (unless the file is already there: a restarted system finds its data as before).

Redis keys, RabbitMQ exchanges and queues, and every other file keep the test's own unique
prefix (`BOXOFFICE_DB_PREFIX`), made and removed per test as before.

A test that needs databases of its own (named by its prefix: a CLI run in another process,
migration tests, fault tests restarting servers) is marked `@pytest.mark.own_databases`:
its settings are then plain `Settings`, whose systems create and drop their databases.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from boxoffice.core.migrations import migrate
from boxoffice.services import definition
from boxoffice.settings import Settings
from boxoffice.topology import DATABASE_NAMES

POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)

# The tables to empty, found in the migrated database itself (alembic_version stays).
_TABLES = text(
    "SELECT string_agg(format('%I', tablename), ', ') FROM pg_tables "
    "WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
)
# What the migration made: relations, columns, indexes, constraints, triggers, functions and
# the revision. A test that changed any of it (one drops a unique index to show the race it
# guards against) leaves a database that is not lent again.
_SCHEMA = text(
    """
    SELECT md5(string_agg(part, ';' ORDER BY part)) FROM (
        SELECT 'rel ' || relname || ' ' || relkind::text FROM pg_class
        WHERE relnamespace = 'public'::regnamespace
        UNION ALL
        SELECT 'col ' || table_name || '.' || column_name || ' ' || data_type || ' '
            || is_nullable || ' ' || coalesce(column_default, '')
        FROM information_schema.columns WHERE table_schema = 'public'
        UNION ALL
        SELECT 'idx ' || indexdef::text FROM pg_indexes WHERE schemaname = 'public'
        UNION ALL
        SELECT 'con ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
        WHERE connamespace = 'public'::regnamespace
        UNION ALL
        SELECT 'trg ' || pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal
        UNION ALL
        SELECT 'fn ' || proname::text FROM pg_proc WHERE pronamespace = 'public'::regnamespace
        UNION ALL
        SELECT 'rev ' || version_num FROM alembic_version
    ) AS schema(part)
    """
)


class PooledSettings(Settings):
    """Settings of a test: while one of its systems runs on PostgreSQL, its databases are the
    pool's (`database_url_for` names them); otherwise (and on SQLite) as `Settings`."""

    def database_url_for(self, service: str) -> str:
        lent = POOL.lent_database(self, service)
        if lent is None:
            return super().database_url_for(service)
        return f"{self.postgres_url.rsplit('/', 1)[0]}/{lent}"


@dataclass
class _Lease:
    databases: dict[str, str] = field(default_factory=dict)  # service -> database name
    systems: int = 0


class DatabasePool:
    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.pool_prefix = f"tpool{uuid.uuid4().hex[:8]}_"
        self._free: dict[str, list[str]] = {}
        self._made = 0
        self._leases: dict[str, _Lease] = {}  # by the settings' db_prefix
        self._truncate: dict[str, str] = {}  # service -> its TRUNCATE statement
        self._schema: dict[str, str] = {}  # service -> the migrated schema's fingerprint
        self._sqlite_dir: Path | None = None
        self._sqlite_templates: dict[str, Path] = {}

    @staticmethod
    def pooled(settings: Settings) -> bool:
        return isinstance(settings, PooledSettings) and not settings.database_url

    def lent_database(self, settings: Settings, service: str) -> str | None:
        if not settings.distributed or settings.database_url:
            return None
        lease = self._leases.get(settings.db_prefix)
        return None if lease is None else lease.databases.get(service)

    # -- a running system's databases ---------------------------------------------------------

    async def lend(self, settings: Settings, services: Iterable[str]) -> None:
        """Before `settings`' system starts: its services' databases, migrated and empty."""
        if not settings.distributed:
            await self._place_sqlite_files(settings, services)
            return
        lease = self._leases.setdefault(settings.db_prefix, _Lease())
        lease.systems += 1
        for service in services:
            if service not in lease.databases:
                lease.databases[service] = await self._take(service)

    async def give_back(self, settings: Settings) -> None:
        """After `settings`' system stopped: the last system of a lease returns its databases."""
        if not settings.distributed:
            return
        lease = self._leases.get(settings.db_prefix)
        if lease is None:
            return
        lease.systems -= 1
        if lease.systems > 0:
            return
        del self._leases[settings.db_prefix]
        for service, name in lease.databases.items():
            await self._return(service, name)

    # -- PostgreSQL -----------------------------------------------------------------------------

    def _url(self, name: str) -> str:
        return f"{self.admin_url.rsplit('/', 1)[0]}/{name}"

    async def _take(self, service: str) -> str:
        free = self._free.setdefault(service, [])
        while free:
            name = free.pop()
            if await self._wipe(service, name):
                return name
        self._made += 1
        name = f"{self.pool_prefix}{self._made}_{DATABASE_NAMES[service]}"
        await migrate(definition(service).package, self._url(name))
        if service not in self._truncate:
            engine = create_async_engine(self._url(name), poolclass=NullPool)
            try:
                async with engine.connect() as conn:
                    tables = await conn.scalar(_TABLES)
                    self._schema[service] = str(await conn.scalar(_SCHEMA))
            finally:
                await engine.dispose()
            self._truncate[service] = f"TRUNCATE {tables} RESTART IDENTITY CASCADE"
        return name

    async def _return(self, service: str, name: str) -> None:
        self._free.setdefault(service, []).append(name)

    async def _wipe(self, service: str, name: str) -> bool:
        """Empty a database a test used before lending it again (here, not when it is given
        back: rows a stopped system still wrote then cannot reach the next test); a database
        that cannot be emptied, or whose schema the test changed, is dropped instead."""
        engine = create_async_engine(self._url(name), poolclass=NullPool)
        try:
            async with engine.connect() as conn:
                # A connection the stopped system left behind must not hold the wipe for long.
                await conn.execute(text("SET lock_timeout = '5s'"))
                if await conn.scalar(_SCHEMA) != self._schema[service]:
                    raise RuntimeError(f"{name}: its schema is not the migrated one any more")
                await conn.execute(text(self._truncate[service]))
                await conn.commit()
        except Exception:
            await engine.dispose()
            await _drop(self.admin_url, name)
            return False
        await engine.dispose()
        return True

    # -- SQLite ---------------------------------------------------------------------------------

    async def _place_sqlite_files(self, settings: Settings, services: Iterable[str]) -> None:
        if settings.database_url:
            return
        for service in services:
            _copy_unless_there(
                await self._sqlite_template(service),
                Path(settings.database_url_for(service).split(":///", 1)[1]),
            )

    async def _sqlite_template(self, service: str) -> Path:
        if service not in self._sqlite_templates:
            if self._sqlite_dir is None:
                self._sqlite_dir = Path(tempfile.mkdtemp(prefix="boxoffice-test-db-"))
            path = self._sqlite_dir / f"{DATABASE_NAMES[service]}.sqlite3"
            await migrate(definition(service).package, f"sqlite+aiosqlite:///{path}")
            # WAL mode: the last connection closed wrote everything into the file itself.
            assert not path.with_name(path.name + "-wal").exists(), path
            self._sqlite_templates[service] = path
        return self._sqlite_templates[service]

    # -- the session's end ----------------------------------------------------------------------

    def close(self) -> None:
        if self._made:
            asyncio.run(_drop_prefix(self.admin_url, self.pool_prefix))
        if self._sqlite_dir is not None:
            shutil.rmtree(self._sqlite_dir, ignore_errors=True)


def _copy_unless_there(template: Path, target: Path) -> None:
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, target)


async def _drop(admin_url: str, name: str) -> None:
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await engine.dispose()


async def _drop_prefix(admin_url: str, prefix: str) -> None:
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT datname FROM pg_database WHERE datname LIKE :p"), {"p": prefix + "%"}
            )
            for (name,) in rows.all():
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await engine.dispose()


POOL = DatabasePool(POSTGRES_URL)
