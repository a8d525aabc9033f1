"""Database.reading() and one_statement(): reads (and single writes) without a transaction
around them (one round trip on PostgreSQL, not BEGIN, the statement and ROLLBACK or COMMIT), on
the same pool as the transactions."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.db import Database
from tests.databases import POSTGRES_URL


async def _two_clocks(session: AsyncSession) -> tuple[object, object]:
    """now() twice, a little apart: the start of the transaction each statement ran in."""
    first = await session.scalar(text("select now()"))
    await asyncio.sleep(0.02)
    return first, await session.scalar(text("select now()"))


async def test_reads_run_each_on_their_own_and_leave_the_connection_transactional() -> None:
    # One connection, so the transaction below runs on the very one the reads used.
    db = Database(POSTGRES_URL, pool_size=1, max_overflow=0)
    try:
        async with db.reading() as session:
            first, second = await _two_clocks(session)
        assert second > first, "each read is a transaction of its own (autocommit)"
        async with db.transaction() as session:
            first, second = await _two_clocks(session)
        assert second == first, "a transaction after the reads is one transaction again"
    finally:
        await db.dispose()


async def test_one_statement_is_committed_the_moment_it_runs_on_postgresql() -> None:
    """Database.one_statement(): the write is seen by another connection before its block
    ends (no transaction held open around it), and the connection goes back transactional."""
    table = f"one_statement_{uuid.uuid4().hex[:12]}"
    db = Database(POSTGRES_URL, pool_size=1, max_overflow=0)
    other = Database(POSTGRES_URL, pool_size=1, max_overflow=0)
    try:
        async with db.transaction() as session:
            await session.execute(text(f"create table {table} (n int)"))
        async with db.one_statement() as session:
            await session.execute(text(f"insert into {table} values (1)"))
            async with other.reading() as elsewhere:
                seen = await elsewhere.scalar(text(f"select count(*) from {table}"))
            assert seen == 1, "committed as it ran, not at the end of the block"
        async with db.transaction() as session:
            first, second = await _two_clocks(session)
        assert second == first, "a transaction after it is one transaction again"
    finally:
        async with db.transaction() as session:
            await session.execute(text(f"drop table if exists {table}"))
        await db.dispose()
        await other.dispose()


async def test_one_statement_on_sqlite_commits_when_its_block_ends(tmp_path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'one.db'}")
    try:
        async with db.transaction() as session:
            await session.execute(text("create table t (n int)"))
        async with db.one_statement() as session:
            await session.execute(text("insert into t values (1)"))
        async with db.reading() as session:
            assert await session.scalar(text("select count(*) from t")) == 1
    finally:
        await db.dispose()
