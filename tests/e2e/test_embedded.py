"""`boxoffice up` (embedded) as a newcomer runs it: one process, SQLite in its data dir, the demo
catalog, the default admin e-mail (its password given, as the smoke test needs to know it; the
generated one is tested in tests/security), the gateway's limits and headers.

The tests share one system and run in file order: the last one stops it with SIGTERM."""

from __future__ import annotations

import asyncio

import pytest

from boxoffice.cli.run import DEFAULT_ADMIN_EMAIL
from tests.e2e.live import watch_a_hold
from tests.e2e.system import System, alive, client, run_smoke

BOOKING_LIMIT = 10  # the default RATE_LIMIT_BOOKING: 10/minute
ADMIN_PASSWORD = "embedded-e2e-admin-pw"


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    # No admin e-mail and no demo-data setting: what a newcomer gets.
    started = System(
        tmp_path_factory.mktemp("embedded"),
        distributed=False,
        env={"RATE_LIMIT_GENERAL": "1000/minute", "BOXOFFICE_ADMIN_PASSWORD": ADMIN_PASSWORD},
    )
    try:
        yield started.start()
    finally:
        started.cleanup()


@pytest.fixture
def http(system):
    with client(system.base_url) as c:
        yield c


def test_up_serves_the_demo_catalog_at_api_movies(http):
    response = http.get("/api/movies")
    assert response.status_code == 200
    movies = response.json()
    assert len(movies) >= 5
    assert all(m["title"] and m["is_active"] for m in movies)
    genre = movies[0]["genre"]
    same_genre = http.get("/api/movies", params={"genre": genre}).json()
    assert same_genre and all(m["genre"] == genre for m in same_genre)


def test_up_prints_where_everything_runs_and_how_to_log_in(system):
    printed = system.output()
    assert DEFAULT_ADMIN_EMAIL in printed
    assert "BOXOFFICE_ADMIN_PASSWORD" in printed
    assert ADMIN_PASSWORD not in printed  # a password the operator chose is not echoed
    for prefix in ("auth", "movies", "bookings", "payments", "notifications"):
        assert f"{system.base_url}/api/{prefix}/docs" in printed
    assert str(system.data_dir) in printed


def test_the_default_admin_logs_in_with_the_given_password(http):
    response = http.post(
        "/api/auth/token",
        data={"username": DEFAULT_ADMIN_EMAIL, "password": ADMIN_PASSWORD},
    )
    assert response.status_code == 200, response.text
    assert response.json()["user"]["role"] == "admin"


def test_the_data_lives_in_sqlite_files_under_the_data_dir(system):
    names = {path.name for path in system.data_dir.glob("*.sqlite3")}
    assert {"auth_db.sqlite3", "movies_db.sqlite3", "bookings_db.sqlite3"} <= names


def test_security_headers_and_error_shape_match_the_gateway(http):
    response = http.get("/api/nowhere/at-all")
    assert response.status_code == 404
    assert response.json()["error_type"] == "NotFoundError"
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-XSS-Protection"] == "1; mode=block"


def test_a_client_paying_too_often_gets_429_as_through_nginx(system):
    with client(system.base_url, source="127.0.0.2") as greedy:
        statuses = [
            greedy.post("/api/payments/process", json={}).status_code
            for _ in range(BOOKING_LIMIT + 5)
        ]
        refused = greedy.post("/api/payments/process", json={})
        reading = greedy.get("/api/movies/movies")
    assert statuses[:BOOKING_LIMIT] == [401] * BOOKING_LIMIT
    assert refused.status_code == 429
    assert refused.json()["error_type"] == "RateLimitError"
    assert refused.json()["status_code"] == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert reading.status_code == 200
    with client(system.base_url) as neighbour:
        assert neighbour.post("/api/payments/process", json={}).status_code == 401


def test_the_contract_smoke_test_passes_embedded(system):
    result = run_smoke(system.base_url, DEFAULT_ADMIN_EMAIL, ADMIN_PASSWORD)
    assert result.returncode == 0, result.stdout + result.stderr


def test_open_seat_maps_hear_a_hold_as_it_happens(system):
    heard = asyncio.run(
        watch_a_hold(system.base_url, (DEFAULT_ADMIN_EMAIL, ADMIN_PASSWORD), listeners=50)
    )
    assert heard["first_kinds"] == {"snapshot"}
    assert heard["seen"] == ["held"] * 50
    assert heard["delta"]["seats"] == {heard["seat"]: "held"}
    assert heard["resumed"][0] == "change"


def test_sigterm_stops_it_cleanly(system):
    pid = system.process.pid
    assert system.terminate() == 0
    assert not alive(pid)
    assert system.leftover_pids() == []
    assert "Application shutdown complete" in system.output()
