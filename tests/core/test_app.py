"""The app factory gives every service health, metrics, correlation ids and the error shape."""

import pytest

from tests.conftest import scrape

SERVICES = ["auth", "movies", "bookings", "payments", "notifications"]


@pytest.mark.parametrize("prefix", SERVICES)
async def test_every_service_answers_health_with_a_timestamp(api, prefix):
    response = await api.get(f"/api/{prefix}/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert body["timestamp"].endswith("Z") or "+00:00" in body["timestamp"]
    assert body["checks"]["database"] == "ok"


async def test_unknown_path_is_a_404_in_the_error_shape(api):
    response = await api.get("/api/bookings/no-such-thing")
    assert response.status_code == 404
    assert response.json() == {
        "detail": "Not Found",
        "status_code": 404,
        "error_type": "NotFoundError",
    }


async def test_correlation_id_is_echoed_and_made_when_missing(api):
    sent = await api.get("/api/payments/health", headers={"X-Correlation-ID": "abc-123"})
    assert sent.headers["X-Correlation-ID"] == "abc-123"
    made = await api.get("/api/payments/health")
    assert len(made.headers["X-Correlation-ID"]) == 36


async def test_metrics_expose_the_design_names(api):
    await api.get("/api/auth/health")
    text = await scrape()
    for name in (
        "http_requests_total",
        "http_request_duration_seconds",
        "bookings_total",
        "payments_total",
        "cache_hits_total",
        "circuit_breaker_state",
    ):
        assert f"# TYPE {name}" in text


async def test_replicas_migrating_one_database_at_once_all_succeed(make_settings):
    """Several replicas of a service start together on a server without its database (k8s,
    compose): separate processes, each creating the database if missing and migrating it."""
    import asyncio
    import sys

    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    from tests.conftest import drop_databases_with_prefix

    settings = make_settings("postgres")
    url = settings.database_url_for("booking")
    script = (
        "import asyncio, sys; from boxoffice.core.migrations import migrate; "
        "asyncio.run(migrate('boxoffice.booking', sys.argv[1]))"
    )
    try:
        replicas = [
            await asyncio.create_subprocess_exec(
                sys.executable, "-c", script, url, stderr=asyncio.subprocess.PIPE
            )
            for _ in range(4)
        ]
        outcomes = [(await r.wait(), (await r.stderr.read()).decode()[-500:]) for r in replicas]
        assert [code for code, _ in outcomes] == [0, 0, 0, 0], outcomes
        engine = create_async_engine(url)
        async with engine.connect() as conn:
            heads = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
        await engine.dispose()
        assert len(heads) == 1
    finally:
        await drop_databases_with_prefix(settings.db_prefix)


LIST_ENDPOINTS = [
    "/api/auth/users",
    "/api/movies/movies",
    "/api/movies/theaters",
    "/api/movies/showtimes",
    "/api/bookings/bookings",
    "/api/payments/payments",
    "/api/notifications/notifications",
]


async def test_every_list_pages_the_same_way_and_refuses_absurd_pages(api, token_for):
    from tests.conftest import bearer

    admin = bearer(token_for("admin"))
    for path in LIST_ENDPOINTS:
        assert (await api.get(path, headers=admin)).status_code == 200, path
        for query in ("offset=9223372036854775808", "offset=-1", "limit=0", "limit=201"):
            response = await api.get(f"{path}?{query}", headers=admin)
            assert response.status_code == 400, (path, query, response.text)
            assert response.json()["error_type"] == "ValidationError"
