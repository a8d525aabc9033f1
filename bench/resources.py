"""The shared servers a run uses (PostgreSQL, Redis, RabbitMQ): where they are, and how to remove
every database, key and RabbitMQ name a run created under its prefix."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

POSTGRES_URL = os.environ.get(
    "POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
RABBITMQ_URL = os.environ.get("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
SERVICES = ("auth", "movie", "booking", "payment", "notification")


@dataclass(frozen=True)
class Postgres:
    """Connection parameters of the PostgreSQL server in POSTGRES_URL."""

    host: str
    port: int
    user: str
    password: str | None
    maintenance_db: str

    @classmethod
    def from_url(cls, url: str = POSTGRES_URL) -> Postgres:
        parts = urlsplit(url)
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            user=unquote(parts.username or "postgres"),
            password=unquote(parts.password) if parts.password else None,
            maintenance_db=parts.path.lstrip("/") or "postgres",
        )

    def dsn(self, database: str | None = None) -> str:
        """A plain libpq/asyncpg URL of `database` (default: the maintenance database)."""
        auth = self.user + (f":{self.password}" if self.password else "")
        return f"postgresql://{auth}@{self.host}:{self.port}/{database or self.maintenance_db}"

    def sqlalchemy_url(self, database: str) -> str:
        """The URL boxoffice's settings take (DATABASE_URL) for `database`."""
        return self.dsn(database).replace("postgresql://", "postgresql+asyncpg://", 1)

    def cli_env(self) -> dict[str, str]:
        """libpq's variables, for pgbench."""
        env = {"PGHOST": self.host, "PGPORT": str(self.port), "PGUSER": self.user}
        if self.password:
            env["PGPASSWORD"] = self.password
        return env


async def create_database(name: str, pg: Postgres | None = None) -> None:
    import asyncpg

    pg = pg or Postgres.from_url()
    conn = await asyncpg.connect(pg.dsn(), timeout=10)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def drop_databases(prefix: str, pg: Postgres | None = None) -> list[str]:
    """Drop every database whose name starts with `prefix`; the names dropped."""
    import asyncpg

    if not prefix:
        raise ValueError("refusing to drop databases without a prefix")
    pg = pg or Postgres.from_url()
    conn = await asyncpg.connect(pg.dsn(), timeout=10)
    try:
        rows = await conn.fetch(
            "SELECT datname FROM pg_database WHERE starts_with(datname, $1)", prefix
        )
        for row in rows:
            await conn.execute(f'DROP DATABASE IF EXISTS "{row["datname"]}" WITH (FORCE)')
        return [row["datname"] for row in rows]
    finally:
        await conn.close()


async def delete_redis_prefix(prefix: str, url: str = REDIS_URL) -> int:
    """Delete the Redis keys under `prefix` (a system's are under `<prefix>bo:`)."""
    from redis.asyncio import Redis

    if not prefix:
        raise ValueError("refusing to delete Redis keys without a prefix")
    redis = Redis.from_url(url)
    try:
        keys = [k async for k in redis.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await redis.delete(*keys)
        return len(keys)
    finally:
        await redis.aclose()


async def delete_rabbit_names(prefix: str, url: str = RABBITMQ_URL) -> None:
    """Delete the queues and exchanges a system with this prefix declares."""
    import aio_pika

    from boxoffice.core.events.rabbitmq import RabbitBus

    bus = RabbitBus(url, prefix=prefix)
    connection = await aio_pika.connect(url, timeout=10)
    async with connection:
        for service in SERVICES:
            for queue in (bus.queue_name(service), bus.dlq_name(service)):
                channel = await connection.channel()
                with contextlib.suppress(Exception):
                    await channel.queue_delete(queue)
            channel = await connection.channel()
            with contextlib.suppress(Exception):
                await channel.exchange_delete(bus.dlx_name(service))
        channel = await connection.channel()
        with contextlib.suppress(Exception):
            await channel.exchange_delete(bus.exchange_name)


async def remove_everything(prefix: str) -> list[str]:
    """Databases, Redis keys and RabbitMQ names under `prefix`; what could not be removed."""
    problems = []
    for what, step in (
        ("databases", drop_databases(prefix)),
        ("redis keys", delete_redis_prefix(prefix)),
        ("rabbitmq names", delete_rabbit_names(prefix)),
    ):
        try:
            await step
        except Exception as exc:
            problems.append(f"{what}: {type(exc).__name__}: {exc}")
    return problems
