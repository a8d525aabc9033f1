"""Database.reading(): reads without a transaction around them (one round trip per read on
PostgreSQL, not BEGIN, the read and ROLLBACK), on the same pool as the transactions."""

from __future__ import annotations

import asyncio

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
