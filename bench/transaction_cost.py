"""What one small transaction costs the service that sends it (its own CPU, not PostgreSQL's),
three ways over the same SQL: an `AsyncSession` (how the services run them), a Core
`AsyncConnection`, and asyncpg directly. Each transaction inserts a row and reads it back.
Rounds alternate the three; medians of the rounds. Prints one JSON object; the scratch
database is dropped afterwards.

    .venv/bin/python bench/transaction_cost.py --transactions 500 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg
import sqlalchemy as sa
import uvloop
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from bench import resources

_METADATA = sa.MetaData()
_ROWS = sa.Table(
    "rows",
    _METADATA,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("n", sa.Integer),
    sa.Column("s", sa.String(40)),
)
_INSERT = sa.insert(_ROWS).values(id=sa.bindparam("id"), n=sa.bindparam("n"), s=sa.bindparam("s"))
_SELECT = sa.select(_ROWS.c.n, _ROWS.c.s).where(_ROWS.c.id == sa.bindparam("id"))


async def _cpu_ms_each(work: Callable[[], Awaitable[None]], count: int) -> float:
    for _ in range(count // 10):  # warm: connections, prepared statements, caches
        await work()
    started = time.process_time()
    for _ in range(count):
        await work()
    return (time.process_time() - started) * 1000 / count


async def measure(transactions: int, rounds: int) -> dict[str, Any]:
    pg = resources.Postgres.from_url()
    name = f"bench_txcost_{uuid.uuid4().hex[:8]}"
    await resources.create_database(name, pg)
    engine = create_async_engine(pg.sqlalchemy_url(name), pool_size=2)
    pool: Any = None
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_METADATA.create_all)
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        pool = await asyncpg.create_pool(pg.dsn(name), min_size=1, max_size=2)

        async def session() -> None:
            async with sessions() as s, s.begin():
                key = uuid.uuid4()
                await s.execute(_INSERT, {"id": key, "n": 1, "s": "x"})
                (await s.execute(_SELECT, {"id": key})).one()

        async def connection() -> None:
            async with engine.begin() as conn:
                key = uuid.uuid4()
                await conn.execute(_INSERT, {"id": key, "n": 1, "s": "x"})
                (await conn.execute(_SELECT, {"id": key})).one()

        async def driver() -> None:
            async with pool.acquire() as conn, conn.transaction():
                key = uuid.uuid4()
                await conn.execute("INSERT INTO rows (id, n, s) VALUES ($1, $2, $3)", key, 1, "x")
                await conn.fetchrow("SELECT n, s FROM rows WHERE id = $1", key)

        ways = {"sqlalchemy_session": session, "sqlalchemy_core": connection, "asyncpg": driver}
        samples: dict[str, list[float]] = {way: [] for way in ways}
        for _ in range(rounds):
            for way, work in ways.items():
                samples[way].append(await _cpu_ms_each(work, transactions))
    finally:
        if pool is not None:
            await pool.close()
        await engine.dispose()
        await resources.drop_databases(name, pg)
    return {
        "transaction": "BEGIN; INSERT one row; SELECT it; COMMIT",
        "transactions_per_round": transactions,
        "rounds": rounds,
        "client_cpu_ms_per_transaction": {
            way: round(statistics.median(values), 3) for way, values in samples.items()
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--transactions", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    print(json.dumps(uvloop.run(measure(args.transactions, args.rounds)), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
