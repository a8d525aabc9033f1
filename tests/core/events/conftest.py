"""A small world for the events contract suite: throwaway services ("shop" produces orders,
"ledger" books them) on either bus.

`adapter` runs each test twice: "local" (the in-process broker, SQLite databases: embedded
mode) and "rabbitmq" (a real RabbitMQ, PostgreSQL databases: distributed mode). Every test
gets unique database, exchange and queue names and removes them afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY

from boxoffice.core.app import ServiceContext
from boxoffice.core.db import Database, create_database_if_missing, new_metadata
from boxoffice.core.events import EventHandlers, events_metadata, events_wiring, record_event
from boxoffice.core.events.local import LocalBus
from boxoffice.core.events.rabbitmq import RabbitBus
from boxoffice.core.runtime import Runtime
from boxoffice.settings import Settings
from tests.conftest import (
    drop_databases_with_prefix,
    eventually,  # noqa: F401 (used by this folder's tests)
    make_runtime,
)

shop_metadata = new_metadata()

orders = sa.Table(
    "orders",
    shop_metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("customer", sa.String(60), nullable=False),
)

# No unique constraint on purpose: a second effect of one event would show as a second row.
ledger_entries = sa.Table(
    "ledger_entries",
    shop_metadata,
    sa.Column("position", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.Uuid, nullable=False),
    sa.Column("order_id", sa.String(64)),
    sa.Column("seq", sa.Integer),
    sa.Column("correlation_id", sa.String(128)),
)


def metric(name: str, service: str, event: str | None = None) -> float:
    labels = {"service": service} if event is None else {"service": service, "event": event}
    return REGISTRY.get_sample_value(name, labels) or 0.0


class World:
    """The runtime and services of one test."""

    def __init__(self, adapter: str, settings: Settings) -> None:
        self.adapter = adapter
        self.settings = settings
        self.runtime: Runtime = make_runtime(settings)
        self.suffix = settings.db_prefix.strip("_")
        self.contexts: list[ServiceContext] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.extra_buses: list[Any] = []
        self._stash: Any = None

    @property
    def bus(self) -> Any:
        return self.runtime.bus

    def name(self, base: str) -> str:
        """A service name unique to this test (metrics are per process, labelled by service)."""
        return f"{base}_{self.suffix}"

    def database_url(self, service: str) -> str:
        if self.adapter == "rabbitmq":
            base = self.settings.postgres_url.rsplit("/", 1)[0]
            return f"{base}/{self.settings.db_prefix}{service}"
        return f"sqlite+aiosqlite:///{(self.settings.data_dir / service).resolve()}.sqlite3"

    async def database(self, service: str) -> Database:
        url = self.database_url(service)
        await create_database_if_missing(url)
        db = Database(url)
        async with db.engine.begin() as conn:
            await conn.run_sync(events_metadata.create_all)
            await conn.run_sync(shop_metadata.create_all)
        return db

    async def service(
        self,
        service: str,
        handlers: EventHandlers | None = None,
        *,
        relay: bool = True,
        consumer: bool = True,
    ) -> ServiceContext:
        """Start a throwaway service the way the app factory does: startup hooks, then loops."""
        ctx = ServiceContext(name=service, runtime=self.runtime, db=await self.database(service))
        self.contexts.append(ctx)
        wiring = events_wiring(handlers or service)
        for hook in wiring.startup:
            await hook(ctx)
        event_relay, event_consumer, _broadcasts = wiring.background
        if relay:
            self.tasks.append(asyncio.create_task(event_relay(ctx)))
        if consumer:
            self.tasks.append(asyncio.create_task(event_consumer(ctx)))
        return ctx

    async def place_order(
        self,
        shop: ServiceContext,
        *,
        seq: int = 0,
        order_id: uuid.UUID | None = None,
        in_order: bool = True,
        **extra: Any,
    ) -> uuid.UUID:
        """The producer's story: an order row and its event, committed together."""
        order_id = order_id or uuid.uuid4()
        async with shop.db.sessionmaker() as session, session.begin():
            await session.execute(sa.insert(orders).values(id=order_id, customer="ann"))
            record_event(
                session,
                "order.placed",
                {"order_id": order_id, "seq": seq, **extra},
                aggregate_id=order_id if in_order else None,
            )
        return order_id

    async def entries(self, ledger: ServiceContext) -> list[Any]:
        async with ledger.db.engine.connect() as conn:
            rows = await conn.execute(sa.select(ledger_entries).order_by(ledger_entries.c.position))
            return list(rows.all())

    async def unpublished(self, shop: ServiceContext) -> int:
        from boxoffice.core.events import OutboxEvent

        async with shop.db.sessionmaker() as session:
            count = await session.scalar(
                sa.select(sa.func.count())
                .select_from(OutboxEvent)
                .where(OutboxEvent.published_at.is_(None))
            )
            return int(count or 0)

    async def break_bus(self) -> None:
        """A broker outage for the publishing side, without touching the machine's broker."""
        if isinstance(self.bus, RabbitBus):
            self._stash = self.bus.url
            self.bus.url = "amqp://guest:guest@127.0.0.1:1/"  # nothing listens there
            connection = self.bus._connection
            await self.bus._drop_publisher()
            if connection is not None:
                await connection.close()
        else:
            assert isinstance(self.bus, LocalBus)
            # Its file cannot be opened (a path under a file) until restored.
            self._stash = (self.bus.path, self.bus._db)
            self.bus.path, self.bus._db = self.settings.data_dir / "x.txt" / "bus.sqlite3", None
            (self.settings.data_dir / "x.txt").write_text("not a directory")

    async def restore_bus(self) -> None:
        if isinstance(self.bus, RabbitBus):
            self.bus.url = self._stash
        else:
            self.bus.path, self.bus._db = self._stash

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for ctx in self.contexts:
            for hook in events_wiring(ctx.name).shutdown:
                await hook(ctx)
            await ctx.db.dispose()
        if isinstance(self.bus, RabbitBus):
            with contextlib.suppress(Exception):
                await self.bus.delete_topology()
        for bus in self.extra_buses:
            await bus.aclose()
        await self.runtime.aclose()
        if self.adapter == "rabbitmq":
            await drop_databases_with_prefix(self.settings.db_prefix)


@pytest.fixture(params=["local", "rabbitmq"])
def adapter(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def event_settings() -> dict[str, Any]:
    """Quick retries for tests; a test may change these before using `world`."""
    return {
        "event_max_attempts": 3,
        "event_retry_base_seconds": 0.02,
        "event_retry_max_seconds": 0.1,
        "event_relay_poll_seconds": 0.5,
    }


@pytest.fixture
async def world(
    adapter: str, make_settings: Callable[..., Settings], event_settings: dict[str, Any]
) -> AsyncIterator[World]:
    backend = "postgres" if adapter == "rabbitmq" else "sqlite"
    w = World(adapter, make_settings(backend, **event_settings))
    try:
        yield w
    finally:
        await w.close()
