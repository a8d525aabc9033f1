"""The circuit breaker of service-to-service calls: it opens on failures, lets one trial call
through when half-open, and never stays stuck half-open because a trial ended without a verdict
(cancelled, or an error that says nothing of the other service's health)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse, RedirectResponse
from starlette.routing import Route

from boxoffice.core.errors import ServiceUnavailable
from boxoffice.core.http import ServiceClient

RECOVERY = 0.05


async def ok(_request):
    return PlainTextResponse("ok")


async def broken(_request):
    return PlainTextResponse("down", status_code=500)


async def slow(_request):
    await asyncio.sleep(30)
    return PlainTextResponse("late")


async def loop(_request):
    return RedirectResponse("/loop")


# The other service, served in-process over ASGI (a real Starlette app, not a stubbed client).
other = Starlette(
    routes=[
        Route(p, f) for p, f in (("/ok", ok), ("/broken", broken), ("/slow", slow), ("/loop", loop))
    ]
)


@pytest.fixture
async def client():
    c = ServiceClient(
        "test",
        "other",
        "http://other",
        retries=1,
        failure_threshold=1,
        recovery_timeout=RECOVERY,
        transport=httpx.ASGITransport(app=other),
    )
    yield c
    await c.aclose()


async def _open_then_wait(client: ServiceClient) -> None:
    with pytest.raises(ServiceUnavailable):
        await client.get("/broken")
    assert client.breaker.state == "OPEN"
    with pytest.raises(ServiceUnavailable, match="circuit open"):
        await client.get("/ok")
    await asyncio.sleep(RECOVERY * 2)


async def test_a_successful_trial_closes_the_breaker(client):
    await _open_then_wait(client)
    assert (await client.get("/ok")).text == "ok"
    assert client.breaker.state == "CLOSED"


async def test_a_failed_trial_opens_it_again(client):
    await _open_then_wait(client)
    with pytest.raises(ServiceUnavailable):
        await client.get("/broken")
    assert client.breaker.state == "OPEN"


async def test_while_a_trial_is_in_flight_other_calls_are_refused(client):
    await _open_then_wait(client)
    trial = asyncio.create_task(client.get("/slow"))
    await asyncio.sleep(0.05)
    with pytest.raises(ServiceUnavailable, match="circuit open"):
        await client.get("/ok")
    trial.cancel()
    await asyncio.gather(trial, return_exceptions=True)


async def test_a_cancelled_trial_lets_the_next_call_be_the_trial(client):
    await _open_then_wait(client)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(client.get("/slow"), timeout=0.1)
    assert client.breaker.state == "HALF_OPEN"
    assert (await client.get("/ok")).text == "ok"
    assert client.breaker.state == "CLOSED"


async def test_a_trial_ending_in_a_non_transport_error_lets_the_next_call_be_the_trial(client):
    await _open_then_wait(client)
    with pytest.raises(httpx.TooManyRedirects):
        await client.get("/loop", follow_redirects=True)
    assert (await client.get("/ok")).text == "ok"
    assert client.breaker.state == "CLOSED"
