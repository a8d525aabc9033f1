"""The outbox and inbox tables come from one call in a service's Alembic migration, on SQLite
and PostgreSQL alike."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations

from boxoffice.core.db import Database, create_database_if_missing
from boxoffice.core.events import create_event_tables, drop_event_tables, record_event
from tests.conftest import drop_databases_with_prefix


def _in_migration(step):
    def run(connection):
        with Operations.context(MigrationContext.configure(connection)):
            step()

    return run


async def test_a_migration_creates_and_drops_the_event_tables(backend, make_settings):
    settings = make_settings(backend)
    url = settings.database_url_for("booking")
    await create_database_if_missing(url)
    db = Database(url)
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(_in_migration(create_event_tables))
            tables = await conn.run_sync(lambda c: set(sa.inspect(c).get_table_names()))
        assert {"event_outbox", "event_inbox"} <= tables

        async with db.sessionmaker() as session, session.begin():
            record_event(session, "booking.created", {"booking_id": "b-1"}, source="booking")
        async with db.engine.connect() as conn:
            stored = (await conn.execute(sa.text("SELECT name, source FROM event_outbox"))).all()
        assert [tuple(row) for row in stored] == [("booking.created", "booking")]

        async with db.engine.begin() as conn:
            await conn.run_sync(_in_migration(drop_event_tables))
            tables = await conn.run_sync(lambda c: set(sa.inspect(c).get_table_names()))
        assert not {"event_outbox", "event_inbox"} & tables
    finally:
        await db.dispose()
        if settings.distributed:
            await drop_databases_with_prefix(settings.db_prefix)
