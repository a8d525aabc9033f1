"""`boxoffice up --distributed` end to end: a supervisor, one uvicorn process per service on
PostgreSQL, Redis and RabbitMQ, and NGINX in front; every request here goes through NGINX.

The tests share one system (starting it is the slow part) and run in file order: the last one
stops it with SIGTERM."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import uuid

import pytest

from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.e2e.live import watch_a_hold
from tests.e2e.system import System, alive, client, run_smoke
from tests.security.website import csrf_token

pytestmark = pytest.mark.distributed

SECURITY_HEADERS = {
    "X-Frame-Options": "SAMEORIGIN",
    "X-Content-Type-Options": "nosniff",
    "X-XSS-Protection": "1; mode=block",
}
BOOKING_LIMIT = 10  # the default RATE_LIMIT_BOOKING: 10/minute


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    started = System(
        tmp_path_factory.mktemp("distributed"),
        distributed=True,
        env={
            "BOXOFFICE_ADMIN_EMAIL": ADMIN_EMAIL,
            "BOXOFFICE_ADMIN_PASSWORD": ADMIN_PASSWORD,
            # Tests send many requests from one address; the booking limit keeps its default.
            "RATE_LIMIT_GENERAL": "1000/minute",
        },
    )
    try:
        yield started.start()
    finally:
        started.cleanup()


@pytest.fixture
def http(system):
    with client(system.base_url) as c:
        yield c


def login(http, username, password):
    response = http.post("/api/auth/token", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_a_newcomer_registers_and_logs_in_through_the_gateway(http):
    tag = uuid.uuid4().hex[:8]
    registered = http.post(
        "/api/auth/register",
        json={"email": f"ana-{tag}@example.com", "username": f"ana{tag}", "password": "secret123"},
    )
    assert registered.status_code == 201, registered.text
    headers = login(http, f"ana-{tag}@example.com", "secret123")
    verified = http.get("/api/auth/verify", headers=headers)
    assert verified.status_code == 200


def test_admin_schedules_a_showtime_and_customers_find_the_movie_by_genre_and_title(http):
    admin = login(http, ADMIN_EMAIL, ADMIN_PASSWORD)
    tag = uuid.uuid4().hex[:8]
    movie = http.post(
        "/api/movies/movies",
        headers=admin,
        json={"title": f"Gateway Story {tag}", "duration_minutes": 101, "genre": "Documentary"},
    )
    assert movie.status_code == 201, movie.text
    theater = http.post(
        "/api/movies/theaters",
        headers=admin,
        json={"name": f"Hall {tag}", "location": "1 Main St", "city": "Hanoi", "rows": 2}
        | {"seats_per_row": 5},
    )
    assert theater.status_code == 201, theater.text
    assert theater.json()["total_seats"] == 10
    day = (dt.date.today() + dt.timedelta(days=3)).isoformat()
    showtime = http.post(
        "/api/movies/showtimes",
        headers=admin,
        json={"movie_id": movie.json()["id"], "theater_id": theater.json()["id"]}
        | {"show_date": day, "show_time": "20:00:00", "price": 95000},
    )
    assert showtime.status_code == 201, showtime.text
    assert showtime.json()["available_seats"] == 10

    found = http.get("/api/movies", params={"genre": "Documentary", "q": f"story {tag}"})
    assert found.status_code == 200
    assert [m["id"] for m in found.json()] == [movie.json()["id"]]
    other_genre = http.get("/api/movies", params={"genre": "Horror", "q": f"story {tag}"})
    assert other_genre.json() == []


def test_the_web_site_is_served_through_the_gateway_and_calls_the_api_through_it(http):
    home = http.get("/")
    assert home.status_code == 200
    assert "Now showing" in home.text
    tag = uuid.uuid4().hex[:8]
    # The sign-up form carries the visitor's CSRF token (its session cookie kept by `http`).
    token = csrf_token(http.get("/register").text)
    signed_up = http.post(
        "/register",
        data={
            "email": f"web-{tag}@example.com",
            "username": f"web{tag}",
            "password": "secret123",
            "csrf_token": token,
        },
        # As a browser posts it: NGINX passes the Host on, so the site knows its own origin.
        headers={"Origin": str(http.base_url).rstrip("/")},
        follow_redirects=False,
    )
    assert signed_up.status_code == 303, signed_up.text
    cookie = signed_up.cookies.get("bo_token")
    assert cookie
    tickets = http.get(
        "/bookings", headers={"Cookie": f"bo_token={cookie}"}, follow_redirects=False
    )
    assert tickets.status_code == 200
    assert "My tickets" in tickets.text
    assert f"web-{tag}@example.com" in tickets.text


def test_every_answer_carries_the_security_headers_and_the_correlation_id(http):
    for response in (
        http.get("/api/movies/movies", headers={"X-Correlation-ID": "trace-me-42"}),
        http.get("/api/bookings/bookings"),  # a service's 401
        http.get("/api/nowhere/at-all"),  # the gateway's own 404
        http.get("/"),  # the web site, behind the gateway
    ):
        for name, value in SECURITY_HEADERS.items():
            assert response.headers.get(name) == value, (response.url, dict(response.headers))
    traced = http.get("/api/movies/movies", headers={"X-Correlation-ID": "trace-me-42"})
    assert traced.headers["X-Correlation-ID"] == "trace-me-42"


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "error_type"),
    [
        ("GET", "/api/movies/movies/not-a-uuid", None, 400, "ValidationError"),
        ("GET", f"/api/movies/movies/{uuid.uuid4()}", None, 404, "NotFoundError"),
        ("POST", "/api/auth/register", {"email": "bad"}, 400, "ValidationError"),
        ("GET", "/api/bookings/bookings", None, 401, "AuthenticationError"),
        ("GET", "/api/nowhere/at-all", None, 404, "NotFoundError"),
        ("POST", "/api/auth/register", "x" * (1024 * 1024 + 1), 413, "PayloadTooLarge"),
    ],
)
def test_errors_through_the_gateway_keep_the_error_shape(
    http, method, path, body, status, error_type
):
    kwargs = {"content": body} if isinstance(body, str) else {"json": body}
    response = http.request(method, path, **kwargs)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    payload = response.json()
    assert payload["status_code"] == status
    assert payload["error_type"] == error_type
    assert isinstance(payload["detail"], str) and payload["detail"]


def test_service_docs_work_through_the_gateway(http):
    docs = http.get("/api/auth/docs")
    assert docs.status_code == 200
    assert "/api/auth/openapi.json" in docs.text
    spec = http.get("/api/auth/openapi.json")
    assert spec.status_code == 200
    assert "/token" in spec.json()["paths"]


def test_the_databases_were_migrated_once_before_any_service_started(system):
    output = system.output()
    migrated = "migrated the databases of auth, movie, booking, payment, notification"
    assert output.count(migrated) == 1
    assert output.index(migrated) < output.index("auth is up on port")


def test_every_service_is_alive_and_ready_through_the_gateway(http):
    for prefix in ("auth", "movies", "bookings", "payments", "notifications"):
        for probe in ("health/live", "health/ready", "health"):
            answer = http.get(f"/api/{prefix}/{probe}")
            assert answer.status_code == 200, (prefix, probe, answer.text)
            assert answer.json()["status"] == "healthy", (prefix, probe, answer.text)
    ready = http.get("/api/bookings/health/ready").json()
    assert ready["checks"] == {"database": "ok", "redis": "ok", "broker": "ok"}


def test_a_client_paying_too_often_gets_429_in_the_error_shape(system):
    # Another loopback address is another client: this one's limit is its own.
    with client(system.base_url, source="127.0.0.2") as greedy:
        statuses = [
            greedy.post("/api/payments/process", json={}).status_code
            for _ in range(BOOKING_LIMIT + 5)
        ]
        refused = greedy.post("/api/payments/process", json={})
        reading = greedy.get("/api/movies/movies")
    assert statuses[:BOOKING_LIMIT] == [401] * BOOKING_LIMIT  # let through to the service
    assert 429 in statuses
    assert refused.status_code == 429
    assert refused.json() == {
        "detail": "Too many requests",
        "status_code": 429,
        "error_type": "RateLimitError",
    }
    assert int(refused.headers["Retry-After"]) >= 1
    assert reading.status_code == 200  # browsing falls under the general limit only
    with client(system.base_url) as neighbour:
        assert neighbour.post("/api/payments/process", json={}).status_code == 401


def test_the_contract_smoke_test_passes_through_the_gateway(system):
    result = run_smoke(system.base_url, ADMIN_EMAIL, ADMIN_PASSWORD)
    assert result.returncode == 0, result.stdout + result.stderr


def test_two_hundred_open_seat_maps_hear_a_hold_through_the_gateway(system):
    heard = asyncio.run(watch_a_hold(system.base_url, (ADMIN_EMAIL, ADMIN_PASSWORD), listeners=200))
    assert heard["statuses"] == {200}
    assert heard["first_kinds"] == {"snapshot"}
    assert heard["seen"] == ["held"] * 200  # every open map, no reload
    # a map that polls instead gets only what changed; a reconnecting stream resumes
    assert heard["delta"]["full"] is False
    assert heard["delta"]["seats"] == {heard["seat"]: "held"}
    kind, _, data = heard["resumed"]
    assert kind == "change" and data["seats"] == {heard["seat"]: "held"}


def test_the_supervisor_restarts_a_service_that_dies(system, http):
    before = system.state()["parts"]["movie"]
    os.kill(before["pid"], signal.SIGKILL)

    def movie_is_back():
        now = system.state()["parts"]["movie"]
        return now["pid"] != before["pid"] and now["status"] == "running"

    system.wait_for(movie_is_back, what="the movie service to be restarted")
    after = system.state()["parts"]["movie"]
    assert after["restarts"] == before["restarts"] + 1
    assert http.get("/api/movies/movies").status_code == 200
    assert "movie killed by SIGKILL" in system.output()
    assert f"restart {after['restarts']} in 1.0 s" in system.output()

    # Dying again soon after: the supervisor waits twice as long before the next restart.
    os.kill(after["pid"], signal.SIGKILL)
    system.wait_for(
        lambda: system.state()["parts"]["movie"]["restarts"] == after["restarts"] + 1,
        what="the second restart",
    )
    assert f"restart {after['restarts'] + 1} in 2.0 s" in system.output()
    system.wait_for(
        lambda: system.state()["parts"]["movie"]["status"] == "running",
        what="the movie service to be back again",
    )
    assert http.get("/api/movies/movies").status_code == 200


def test_sigterm_stops_the_supervisor_and_every_child(system):
    pids = [part["pid"] for part in system.state()["parts"].values()]
    assert len(pids) == 7 and all(pids)  # five services, the web site, NGINX
    assert system.terminate() == 0
    left = system.leftover_pids()
    assert left == [], [open(f"/proc/{p}/stat").read()[:120] for p in left]
    assert [pid for pid in pids if alive(pid)] == []
    assert "every part stopped" in system.output()
