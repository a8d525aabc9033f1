"""Liveness asks nothing outside the process; readiness asks the database (503 without it) and
Redis and the broker (named, "degraded" without them), each within a short timeout."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from boxoffice.core.app import create_service_app
from boxoffice.services import definition
from tests.conftest import make_runtime, running_system
from tests.e2e.system import free_ports

SERVICES = {
    "auth": "auth",
    "movie": "movies",
    "booking": "bookings",
    "payment": "payments",
    "notification": "notifications",
}


@contextlib.contextmanager
def silent_server() -> Iterator[int]:
    """A port that takes connections and never says a word: a hung Redis or broker."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield sock.getsockname()[1]


@pytest.mark.parametrize(("name", "prefix"), SERVICES.items())
async def test_every_service_is_alive_and_ready_and_names_what_it_asked(api, backend, name, prefix):
    live = await api.get(f"/api/{prefix}/health/live")
    assert live.status_code == 200
    assert live.json()["status"] == "healthy"
    assert live.json()["checks"] == {}

    ready = await api.get(f"/api/{prefix}/health/ready")
    assert ready.status_code == 200
    body = ready.json()
    assert (body["status"], body["service"]) == ("healthy", name)
    expected = {"database"}
    if backend == "postgres":
        expected.add("redis")
    if name != "auth":  # auth sends and receives no events
        expected.add("broker")
    assert body["checks"] == dict.fromkeys(expected, "ok")
    # The design's /health means ready.
    assert (await api.get(f"/api/{prefix}/health")).json()["checks"] == body["checks"]


async def test_with_its_database_down_a_service_is_alive_but_not_ready(make_settings):
    settings = make_settings("postgres")
    runtime = make_runtime(settings)
    nowhere = f"postgresql+asyncpg://postgres@127.0.0.1:{free_ports(1)}/bookings_db"
    app = create_service_app(definition("booking"), runtime, database_url=nowhere)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://booking") as client:
            live = await client.get("/health/live")
            assert (live.status_code, live.json()["status"]) == (200, "healthy")
            for path in ("/health/ready", "/health"):
                ready = await client.get(path)
                assert ready.status_code == 503, path
                body = ready.json()
                assert body["status"] == "unhealthy"
                assert body["checks"]["database"].startswith("error: ")
                assert body["checks"]["redis"] == "ok"
                assert "127.0.0.1" not in ready.text  # no address (or password) leaks out
    finally:
        await app.state.ctx.db.dispose()
        await runtime.aclose()


async def test_a_hung_redis_and_broker_leave_the_service_ready_degraded_within_seconds(
    make_settings,
):
    with silent_server() as redis_port, silent_server() as broker_port:
        settings = make_settings(
            "postgres",
            redis_url=f"redis://127.0.0.1:{redis_port}/0",
            rabbitmq_url=f"amqp://guest:guest@127.0.0.1:{broker_port}/",
        )
        async with running_system(settings, services=("booking",)) as api:
            started = time.monotonic()
            ready = await api.get("/api/bookings/health/ready")
            elapsed = time.monotonic() - started
            assert ready.status_code == 200  # SPEC 4.7: booking still sells without them
            body = ready.json()
            assert body["status"] == "degraded"
            assert body["checks"]["database"] == "ok"
            assert body["checks"]["redis"].startswith("error: ")
            assert body["checks"]["broker"].startswith("error: ")
            # The checks run together, each cut off after a second.
            assert elapsed < 2.5, elapsed
