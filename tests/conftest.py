"""Shared fixtures: real PostgreSQL/Redis (and RabbitMQ) or SQLite/in-process, per test.

`backend` runs a test twice: "sqlite" (embedded adapters) and "postgres" (PostgreSQL + Redis).
Every test gets a unique BOXOFFICE_DB_PREFIX: its Redis keys, RabbitMQ exchange and queues and
files are its own, removed afterwards, so runs never collide with each other or with a running
system. Its databases are migrated once per session and lent to it empty (tests/databases.py);
a test marked `own_databases` gets databases named by its prefix, created and dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from boxoffice.core.auth import issue_token
from boxoffice.core.runtime import Runtime, memory_runtime, redis_runtime
from boxoffice.settings import Settings
from tests.databases import POOL, POSTGRES_URL, PooledSettings

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RABBITMQ_URL = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
TEST_SECRET = "test-secret-key-for-boxoffice-tests-0123456789abcdef"
ADMIN_EMAIL = "admin@boxoffice.test"
ADMIN_PASSWORD = "admin-secret-1"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "own_databases: the test's databases are named by its prefix, created and dropped "
        "(not lent from the session's migrated pool: see tests/databases.py)",
    )


@pytest.fixture(scope="session", autouse=True)
def database_pool() -> Iterator[None]:
    """The session's migrated databases (tests/databases.py), dropped at its end."""
    yield
    POOL.close()


async def drop_databases_with_prefix(prefix: str) -> None:
    engine = create_async_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT datname FROM pg_database WHERE datname LIKE :p"), {"p": prefix + "%"}
            )
            for (name,) in rows.all():
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await engine.dispose()


async def delete_redis_prefix(prefix: str) -> None:
    from redis.asyncio import Redis

    redis = Redis.from_url(REDIS_URL)
    try:
        keys = [k async for k in redis.scan_iter(match=f"{prefix}*", count=500)]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()


async def delete_event_topology(runtime: Runtime) -> None:
    """Remove the RabbitMQ exchange and queues the test's services declared (core/events)."""
    delete = getattr(runtime.bus, "delete_topology", None)
    if delete is None:
        return
    try:
        await delete()
    finally:
        await runtime.bus.aclose()  # type: ignore[union-attr]


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    """Run the test once on the embedded adapters and once on the distributed ones."""
    return str(request.param)


@pytest.fixture
def make_settings(tmp_path: Any, request: pytest.FixtureRequest) -> Callable[..., Settings]:
    """Settings for one test: fast bcrypt, a fixed key, a private data dir and DB prefix; its
    systems run on the session's migrated databases unless it is marked `own_databases`."""
    prefix = f"t{uuid.uuid4().hex[:10]}_"
    own = request.node.get_closest_marker("own_databases") is not None
    kind = Settings if own else PooledSettings

    def build(backend: str = "sqlite", **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "BOXOFFICE_MODE": "distributed" if backend == "postgres" else "embedded",
            "postgres_url": POSTGRES_URL,
            "redis_url": REDIS_URL,
            "rabbitmq_url": RABBITMQ_URL,
            "BOXOFFICE_DB_PREFIX": prefix,
            "secret_key": TEST_SECRET,
            "bcrypt_rounds": 4,  # production uses 12 (tested separately); 4 keeps tests quick
            "BOXOFFICE_DATA_DIR": tmp_path / "data",
            "BOXOFFICE_ADMIN_EMAIL": ADMIN_EMAIL,
            "BOXOFFICE_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "BOXOFFICE_DEMO_DATA": False,
            "log_json": False,
            "log_level": "WARNING",
            "http_retries": 2,
        }
        values.update(overrides)
        return kind(_env_file=None, **values)  # type: ignore[call-arg]

    build.prefix = prefix  # type: ignore[attr-defined]
    return build


def make_runtime(settings: Settings) -> Runtime:
    return redis_runtime(settings) if settings.distributed else memory_runtime(settings)


@contextlib.asynccontextmanager
async def running_system(
    settings: Settings, services: tuple[str, ...] | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """The embedded composition of `services` on `settings`' adapters, its lifespan entered,
    and an HTTP client speaking to it at the gateway paths.

    With `PooledSettings` (make_settings' kind) its databases are the session's migrated ones,
    lent empty and wiped when the last system on these settings stops; with plain `Settings`
    they are created (and migrated) at start and dropped at the end."""
    from boxoffice.embedded import create_embedded_app
    from boxoffice.services import all_definitions

    pooled = POOL.pooled(settings)
    if pooled:
        names = [d.name for d in all_definitions() if services is None or d.name in services]
    runtime = make_runtime(settings)
    try:
        if pooled:
            await POOL.lend(settings, names)
        app = create_embedded_app(settings, runtime, services=services)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://test", timeout=30
            ) as client:
                client.app = app  # type: ignore[attr-defined]
                client.runtime = runtime  # type: ignore[attr-defined]
                yield client
    finally:
        if pooled:
            await POOL.give_back(settings)
        if settings.distributed:
            if not pooled:
                await drop_databases_with_prefix(settings.db_prefix)
            await delete_redis_prefix(f"{settings.db_prefix}bo:")
            await delete_event_topology(runtime)


@pytest.fixture
async def api(
    backend: str, make_settings: Callable[..., Settings]
) -> AsyncIterator[httpx.AsyncClient]:
    """The whole system, in-process, on the test's backend; `api.runtime` has the adapters."""
    async with running_system(make_settings(backend)) as client:
        yield client


@pytest.fixture
def token_for(make_settings: Callable[..., Settings]) -> Callable[..., str]:
    """Mint a token as the auth service would (verification is local in every service)."""
    settings = make_settings()

    def mint(
        role: str = "customer", user_id: uuid.UUID | None = None, email: str | None = None
    ) -> str:
        uid = user_id or uuid.uuid4()
        token, _ = issue_token(
            settings, user_id=uid, email=email or f"{uid.hex[:8]}@x.test", role=role
        )
        return token

    return mint


async def scrape() -> str:
    """What Prometheus reads from an in-process system: embedded mode's metrics listener
    (`metrics_app`; the gateway paths serve no metrics). One registry per process, so it holds
    every service's series, told apart by their `service` label."""
    from boxoffice.embedded import metrics_app

    transport = httpx.ASGITransport(app=metrics_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://metrics") as client:
        response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    return response.text


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def eventually(
    check: Callable[[], Awaitable[Any]] | Callable[[], Any], timeout: float = 20.0
) -> Any:
    """Poll until `check` returns something truthy; fail (with its last value) after `timeout`.
    A bound on waiting for background work (events, sagas), not a timing assertion."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            name = getattr(check, "__name__", "check")
            raise AssertionError(f"{name}: not true within {timeout}s (last: {value!r})")
        await asyncio.sleep(0.05)
