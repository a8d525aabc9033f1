"""What `boxoffice up` puts in front of the services in embedded mode, as NGINX does in
distributed mode: per-client rate limits (429 in the error shape, with Retry-After), the 1 MB body
limit and the security headers."""

from __future__ import annotations

import httpx
import pytest

from boxoffice.core.ratelimit import RateLimit, TokenBucket
from boxoffice.embedded import create_embedded_app
from boxoffice.topology import is_booking_limited


@pytest.fixture
async def gateway(make_settings):
    """The embedded app with its gateway on, small limits, and only the auth service."""
    settings = make_settings(rate_limit_general="6/minute", rate_limit_booking="2/minute")
    app = create_embedded_app(settings, services=["auth"], gateway=True)
    async with app.router.lifespan_context(app):

        def client_from(address: str) -> httpx.AsyncClient:
            transport = httpx.ASGITransport(app=app, client=(address, 40000))
            return httpx.AsyncClient(transport=transport, base_url="http://test")

        yield client_from


async def test_a_client_past_the_general_limit_gets_429_with_retry_after(gateway):
    async with gateway("10.0.0.1") as client:
        allowed = [(await client.get("/api/auth/health")).status_code for _ in range(6)]
        refused = await client.get("/api/auth/health")
    assert allowed == [200] * 6
    assert refused.status_code == 429
    assert refused.json()["status_code"] == 429
    assert refused.json()["error_type"] == "RateLimitError"
    assert "6 per 60 s" in refused.json()["detail"]
    assert int(refused.headers["Retry-After"]) == 10  # one request comes back every 10 s
    assert refused.headers["X-Frame-Options"] == "SAMEORIGIN"


async def test_one_clients_limit_does_not_touch_another(gateway):
    async with gateway("10.0.0.1") as greedy, gateway("10.0.0.2") as neighbour:
        for _ in range(7):
            await greedy.get("/api/auth/health")
        assert (await greedy.get("/api/auth/health")).status_code == 429
        assert (await neighbour.get("/api/auth/health")).status_code == 200


async def test_booking_and_paying_have_the_stricter_limit_but_browsing_does_not(gateway):
    async with gateway("10.0.0.3") as client:
        paying = [(await client.post("/api/payments/process")).status_code for _ in range(3)]
        browsing = await client.get("/api/auth/health")
    # payments is not mounted in this app: 404 until the limit answers first.
    assert paying == [404, 404, 429]
    assert browsing.status_code == 200


async def test_a_refused_request_costs_nothing(gateway):
    async with gateway("10.0.0.4") as client:
        for _ in range(2):
            await client.post("/api/bookings/book")
        for _ in range(5):  # refused by the booking limit: the general one is not spent
            assert (await client.post("/api/bookings/book")).status_code == 429
        general = [(await client.get("/api/auth/health")).status_code for _ in range(4)]
    assert general == [200, 200, 200, 200]


async def test_paths_outside_the_api_are_not_limited(gateway):
    async with gateway("10.0.0.5") as client:
        statuses = {(await client.get("/no-api-here")).status_code for _ in range(10)}
    assert statuses == {404}


async def test_a_body_over_one_megabyte_is_refused_with_413(gateway):
    async with gateway("10.0.0.6") as client:
        declared = await client.post("/api/auth/register", content=b"x" * (1024 * 1024 + 1))

        async def chunks():
            for _ in range(20):
                yield b"y" * 65536

        streamed = await client.post("/api/auth/register", content=chunks())
    for response in (declared, streamed):
        assert response.status_code == 413
        assert response.json()["error_type"] == "PayloadTooLarge"


async def test_without_the_gateway_the_services_are_not_limited(make_settings):
    # What the service tests use: they reach the services as they do without NGINX.
    settings = make_settings(rate_limit_general="1/minute")
    app = create_embedded_app(settings, services=["auth"])
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            statuses = {(await client.get("/api/auth/health")).status_code for _ in range(5)}
    assert statuses == {200}


def test_a_bucket_refills_at_the_limits_rate():
    now = [1000.0]
    bucket = TokenBucket(RateLimit.parse("10/minute"), clock=lambda: now[0])
    for _ in range(10):
        assert bucket.wait_time("ip") == 0
        bucket.take("ip")
    assert bucket.wait_time("ip") == pytest.approx(6.0)
    now[0] += 6.0
    assert bucket.wait_time("ip") == 0
    bucket.take("ip")
    assert bucket.wait_time("ip") > 0
    now[0] += 3600
    assert bucket.wait_time("ip") == 0


def test_a_bucket_forgets_idle_clients_to_stay_small():
    now = [0.0]
    bucket = TokenBucket(RateLimit.parse("60/minute"), clock=lambda: now[0])
    bucket.max_keys = 100
    for i in range(100):
        bucket.take(f"10.0.{i // 256}.{i % 256}")
    now[0] += 120  # every bucket is full again
    bucket.take("192.168.0.1")
    assert len(bucket._buckets) == 1


@pytest.mark.parametrize(
    ("method", "path", "limited"),
    [
        ("POST", "/api/bookings/book", True),
        ("POST", "/api/bookings/book/", True),
        ("POST", "/api/bookings/bookings/6f1c/cancel", True),
        ("POST", "/api/payments/process", True),
        ("GET", "/api/bookings/book", False),
        ("POST", "/api/bookings/seats/hold", False),
        ("POST", "/api/bookings/seats/release", False),
        ("POST", "/api/payments/payments/6f1c/refund", False),
        ("POST", "/api/bookings/bookings/a/b/cancel", False),
    ],
)
def test_which_requests_fall_under_the_booking_limit(method, path, limited):
    assert is_booking_limited(method, path) is limited
