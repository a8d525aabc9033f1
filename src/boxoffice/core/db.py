"""Database mechanism: engines, the per-request session, portable column types, migrations."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import sqlite3
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiosqlite
import structlog
from sqlalchemy import (
    BigInteger,
    MetaData,
    Numeric,
    String,
    bindparam,
    event,
    func,
    select,
    text,
)
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.pool import NullPool
from sqlalchemy.types import DateTime, TypeDecorator

from boxoffice.core.dburl import async_database_url

log = structlog.get_logger("boxoffice.db")

# Constraint names are stable across SQLite and PostgreSQL, so migrations can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    """A MetaData for one service's database, with the shared naming convention."""
    return MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC timestamp on both PostgreSQL and SQLite (which drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use an aware UTC time")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Money(TypeDecorator[Decimal]):
    """DECIMAL(12,2) on PostgreSQL; exact text on SQLite, which has no decimal type."""

    impl = Numeric(12, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(24))
        return dialect.type_descriptor(Numeric(12, 2, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        amount = Decimal(str(value)).quantize(Decimal("0.01"))
        return str(amount) if dialect.name == "sqlite" else amount

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(str(value)).quantize(Decimal("0.01"))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the one writer; busy_timeout queues writers instead of failing.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class _SQLiteConnection(aiosqlite.Connection):
    """aiosqlite's connection, made safe to cancel and to outlive its event loop.

    aiosqlite 0.22 (see omnilib/aiosqlite#389) has two ways to hang or crash at shutdown:
    - `close()` ends by queueing a stop for its worker thread and awaiting it. When a task is
      cancelled while SQLAlchemy closes an invalidated connection (a request cut off
      mid-query, or shutdown cancelling everything), SQLAlchemy also force-stops the
      connection; the worker ends at that first stop, and the second one, still awaited, never
      runs. The pending close held the event loop's shutdown forever (a test hung in teardown).
    - A worker still busy when the loop closes (SQLite waiting out a lock) hands its result to
      the closed loop and dies with "Event loop is closed".
    Here stopping awaits nothing, and the worker drops results nobody can receive any more.
    """

    def __init__(self, connector: Callable[[], sqlite3.Connection]) -> None:
        super().__init__(connector, iter_chunk_size=64)
        # Daemon: a connection nobody closed must not keep the process alive at exit.
        self._thread = threading.Thread(target=_sqlite_worker, args=(self._tx,), daemon=True)

    def stop(self) -> None:  # type: ignore[override]
        """Close the SQLite connection and end the worker, after what is queued already."""
        self._running = False

        def close_and_stop() -> object:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
            return _STOP_WORKER

        self._tx.put_nowait((None, close_and_stop))

    async def close(self) -> None:
        if self._connection is None:
            return
        try:
            await self._execute(self._conn.close)
        finally:
            self._connection = None
            self.stop()


_STOP_WORKER = object()


def _sqlite_worker(tx: Any) -> None:
    """Run queued calls on this thread, handing each result back to its caller's loop."""
    while True:
        future, function = tx.get()
        try:
            result, error = function(), None
        except BaseException as exc:
            result, error = None, exc
        if future is not None:
            deliver = future.set_exception if error is not None else future.set_result
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting
                future.get_loop().call_soon_threadsafe(_settle, future, deliver, error or result)
        if result is _STOP_WORKER:
            return


def _settle(future: Any, deliver: Callable[[Any], None], value: Any) -> None:
    if not future.done():  # the caller may have been cancelled meanwhile
        deliver(value)


async def _connect_sqlite(path: str) -> aiosqlite.Connection:
    return await _SQLiteConnection(
        functools.partial(sqlite3.connect, path, timeout=30, check_same_thread=False)
    )


def make_engine(url: str, *, pool_size: int = 5, max_overflow: int = 5) -> AsyncEngine:
    """An async engine for a service's database URL (PostgreSQL via asyncpg, or SQLite)."""
    url = async_database_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database or ":memory:"
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, async_creator=functools.partial(_connect_sqlite, path))
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        # A request waits this long for a free connection, then gets a 503 (never a 500).
        pool_timeout=10,
    )
    _ping_idle_connections(engine)
    return engine


# A pooled connection used less than this long ago is taken as alive.
IDLE_PING_SECONDS = 1.0


def _ping_idle_connections(engine: AsyncEngine) -> None:
    """SQLAlchemy's pre-ping, but only for a connection that sat idle: a server restart leaves
    dead connections in the pool, and a ping finds them before a request does. Pinging on every
    checkout (`pool_pre_ping`) cost a round trip per transaction, a fifth of a rush's database
    work; a connection in steady use is known to be alive (and if the server went away under
    it, its next statement fails and SQLAlchemy replaces the whole pool, as a ping would)."""
    sync = engine.sync_engine

    def checked_in(_: Any, record: Any) -> None:
        record.info["checked_in_at"] = time.monotonic()

    def checkout(dbapi_connection: Any, record: Any, _: Any) -> None:
        since = record.info.get("checked_in_at")
        if since is None or time.monotonic() - since < IDLE_PING_SECONDS:
            return  # fresh, or in steady use
        try:
            alive = sync.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise InvalidatePoolError(f"idle connection failed its ping: {exc!r}") from exc
        if not alive:
            raise InvalidatePoolError("idle connection failed its ping")

    event.listen(sync, "checkin", checked_in)
    event.listen(sync, "checkout", checkout)


# Built once (every booking takes it): building a statement costs SQLAlchemy more than running it.
_ADVISORY_XACT_LOCK = select(func.pg_advisory_xact_lock(bindparam("key", type_=BigInteger)))


async def lock_key(session: AsyncSession, key: uuid.UUID) -> None:
    """Make the transactions that lock the same key take turns until each ends.

    PostgreSQL: an advisory transaction lock on the key. SQLite: the database's one write
    lock, taken now (BEGIN IMMEDIATE) unless this transaction holds it already. SQLite's
    driver begins a transaction only at the first write, so without it a read that decides a
    later write (is there a row already?) would run before the lock; and a savepoint would be
    the outermost transaction, whose release commits."""
    if session.get_bind().dialect.name == "postgresql":
        number = int.from_bytes(key.bytes[:8], "big", signed=True)
        await session.execute(_ADVISORY_XACT_LOCK, {"key": number})
        return
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    if not raw.driver_connection.in_transaction:  # type: ignore[union-attr]
        await connection.exec_driver_sql("BEGIN IMMEDIATE")


_AFTER_COMMIT = "boxoffice.after_commit"
AfterCommit = Callable[[], Awaitable[None]]


def after_commit(session: AsyncSession | Session, action: AfterCommit) -> None:
    """Run `action` once the session's transaction has committed (never after a rollback).

    For work outside the database that must follow the data, not lead it: the seat board
    learning of a sale, a cache forgetting a row. `Database.session()` (requests) and
    `Database.transaction()` await it after the commit; a failing action is logged, since
    the commit already stands. An action registered inside a savepoint goes with it when the
    savepoint is rolled back; the others stay.
    """
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    scope = sync.get_nested_transaction() or sync.get_transaction()
    sync.info.setdefault(_AFTER_COMMIT, []).append((scope, action))


def _inside(scope: SessionTransaction | None, rolled_back: SessionTransaction) -> bool:
    while scope is not None:
        if scope is rolled_back:
            return True
        scope = scope.parent
    return False


@event.listens_for(Session, "after_soft_rollback")
def _forget_after_commit(session: Session, rolled_back: SessionTransaction) -> None:
    # Fired for a savepoint's rollback too (as is "after_rollback"), which must not forget
    # what the enclosing transaction will still commit.
    if rolled_back.parent is None:
        session.info.pop(_AFTER_COMMIT, None)
        return
    kept = [(s, a) for s, a in session.info.get(_AFTER_COMMIT, []) if not _inside(s, rolled_back)]
    session.info[_AFTER_COMMIT] = kept


async def _run_after_commit(session: AsyncSession) -> None:
    for _, action in session.sync_session.info.pop(_AFTER_COMMIT, []):
        try:
            await action()
        except Exception as exc:
            log.warning(
                "after_commit_failed", action=getattr(action, "__qualname__", "?"), error=repr(exc)
            )


class Database:
    """One service's engine and session factory."""

    def __init__(self, url: str, *, pool_size: int = 5, max_overflow: int = 5) -> None:
        self.url = url
        self.engine = make_engine(url, pool_size=pool_size, max_overflow=max_overflow)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        # Reads only: on PostgreSQL in autocommit, so a read is one round trip instead of
        # BEGIN, the read and ROLLBACK (asyncpg sends BEGIN as a statement of its own: ~5 % of
        # a busy service's CPU went to it). SQLite's driver begins only at a write anyway.
        readers = self.engine
        if self.engine.dialect.name == "postgresql":
            readers = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._readers = async_sessionmaker(readers, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    async def session(self) -> AsyncIterator[AsyncSession]:
        """The request's session: committed once when the request succeeds, else rolled back."""
        async with self.sessionmaker() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise
            await _run_after_commit(session)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A unit of work outside a request: committed when the block ends without error."""
        async with self.sessionmaker() as session:
            async with session.begin():
                yield session
            await _run_after_commit(session)

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A session for reads that need no transaction: each statement sees what was
        committed when it ran (as in READ COMMITTED). Never write on it: nothing is rolled
        back."""
        async with self._readers() as session:
            yield session

    @contextlib.asynccontextmanager
    async def one_statement(self) -> AsyncIterator[AsyncSession]:
        """A session for one write that is atomic on its own (an UPDATE … RETURNING that claims
        a row, say). On PostgreSQL it runs in autocommit: one round trip instead of BEGIN, the
        statement and COMMIT, and committed the moment it ran. On SQLite it is a transaction,
        committed when the block ends. Put one statement in it, never two that belong
        together."""
        if self.is_sqlite:
            async with self.sessionmaker() as session, session.begin():
                yield session
        else:
            async with self._readers() as session:
                yield session

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


async def create_database_if_missing(url: str) -> None:
    """Create a PostgreSQL database named by the URL when the server lacks it (no-op on SQLite)."""
    parsed = make_url(async_database_url(url))
    if parsed.get_backend_name() != "postgresql":
        return
    name = parsed.database
    admin = create_async_engine(
        parsed.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    try:
        async with admin.connect() as conn:
            exists = await conn.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            )
            if not exists:
                try:
                    await conn.execute(text(f'CREATE DATABASE "{name}"'))
                except Exception:
                    # Another process created it between the two statements (PostgreSQL reports
                    # that as "already exists" or as a unique violation on pg_database): fine,
                    # as long as it exists now.
                    created = await conn.scalar(
                        text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
                    )
                    if not created:
                        raise
    finally:
        await admin.dispose()


async def drop_database(url: str) -> None:
    """Drop a PostgreSQL database (tests use this to clean up after themselves)."""
    parsed = make_url(async_database_url(url))
    if parsed.get_backend_name() != "postgresql":
        return
    admin = create_async_engine(
        parsed.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    finally:
        await admin.dispose()
