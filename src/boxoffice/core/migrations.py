"""Alembic, one migration history per service, run by `boxoffice migrate` (once per deployment,
before the service starts) or by embedded mode at start.

A service's `migrations/env.py` is one call to `run_env(metadata)`; its versions live beside it.
"""

from __future__ import annotations

import asyncio
import threading
from importlib import resources
from typing import Any

from alembic import command, context
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection

from boxoffice.core.db import create_database_if_missing, make_engine
from boxoffice.core.dburl import async_database_url

# "boxoffice migrate" as a number: the advisory lock every migrating process of a database takes.
LOCK_KEY = 0x626F786F6666


def alembic_config(service_package: str, url: str) -> Config:
    """The Alembic config of a service package such as `boxoffice.auth`."""
    location = resources.files(service_package) / "migrations"
    url = async_database_url(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(location))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["database_url"] = url
    return cfg


# Alembic's `context` is one global per process: migrations in one process take turns.
_ONE_AT_A_TIME = threading.Lock()


def _upgrade_sync(service_package: str, url: str, revision: str) -> None:
    with _ONE_AT_A_TIME:
        command.upgrade(alembic_config(service_package, url), revision)


async def migrate(service_package: str, url: str, revision: str = "head") -> None:
    """Create the database if missing and bring it to `revision`."""
    await create_database_if_missing(url)
    # Alembic's command API is synchronous and env.py runs its own event loop: use a thread.
    await asyncio.to_thread(_upgrade_sync, service_package, url, revision)


async def pending(service_package: str, url: str) -> str | None:
    """What the database lacks of this version's schema, or None when it has it.

    A database migrated by a *newer* version (a revision this one does not know) counts as having
    it: migrations add before they remove, so during a rolling update the replicas of the old
    version keep running, and restarting, on the schema the new one expanded. Raises when the
    database cannot be reached (or does not exist yet).
    """
    script = ScriptDirectory.from_config(alembic_config(service_package, url))
    wanted = set(script.get_heads())
    engine = make_engine(url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            current = set(
                await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_heads())
            )
    finally:
        await engine.dispose()
    if current == wanted:
        return None
    if not current:
        return "not migrated yet"
    for revision in current:
        try:
            script.get_revision(revision)
        except CommandError:
            return None
    return f"at {' '.join(sorted(current))}, this version needs {' '.join(sorted(wanted))}"


def run_env(target_metadata: MetaData | list[MetaData]) -> None:
    """The body of every service's migrations/env.py."""
    url: str = context.config.attributes.get("database_url") or (
        context.config.get_main_option("sqlalchemy.url") or ""
    )
    if not url:
        raise RuntimeError("no database URL for the migration (see core.migrations.migrate)")
    if context.is_offline_mode():
        context.configure(
            url=url,
            target_metadata=target_metadata,
            literal_binds=True,
            render_as_batch=url.startswith("sqlite"),
        )
        with context.begin_transaction():
            context.run_migrations()
        return

    def do_run(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run_async() -> None:
        engine = make_engine(url)
        try:
            async with engine.connect() as conn:
                if conn.dialect.name == "postgresql":
                    # Replicas starting together migrate one after another, not in a race; the
                    # lock is this database's and lasts as long as this connection.
                    await conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": LOCK_KEY})
                    await conn.commit()
                await conn.run_sync(do_run)
                await conn.commit()
        finally:
            await engine.dispose()

    asyncio.run(run_async())


def revision_autogenerate(service_package: str, url: str, message: str, **kw: Any) -> None:
    """Developer helper: autogenerate a revision for a service against an up-to-date database."""
    command.revision(alembic_config(service_package, url), message=message, autogenerate=True, **kw)
