"""Password guessing (issue 11, finding 9): a login name that keeps failing is locked for a while,
whichever process is asked and whether or not the account exists; the most common passwords
cannot be chosen at all."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from boxoffice.settings import Settings
from tests.auth.helpers import is_error, login, register, signed_up
from tests.conftest import bearer, make_runtime, running_system

ATTEMPTS = 3
# Small numbers so the stories run in seconds; production's are 5 per 15 minutes, 60 s doubling.
THROTTLE = {
    "login_max_failures": ATTEMPTS,
    "login_failure_window_seconds": 60,
    "login_lockout_seconds": 1,
    "login_lockout_max_seconds": 60,
    # The per-address limit is the other defence; keep it out of the way of these stories.
    "rate_limit_general": "10000/minute",
}


@pytest.fixture
def throttled(backend: str, make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(backend, **THROTTLE)


@pytest.fixture
async def api(throttled: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The auth service alone, with a quick login throttle."""
    async with running_system(throttled, services=("auth",)) as client:
        yield client


@contextlib.asynccontextmanager
async def another_process(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A second auth process on the same databases and Redis (its own adapters and memory)."""
    from boxoffice.embedded import create_embedded_app

    app = create_embedded_app(settings, make_runtime(settings), services=("auth",))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def fail(api: httpx.AsyncClient, name: str, times: int = ATTEMPTS) -> None:
    for _ in range(times):
        assert is_error(await login(api, name, "not-the-password"), 401)


def is_locked(response: httpx.Response) -> bool:
    return is_error(response, 429, "RateLimitError") and int(response.headers["Retry-After"]) >= 1


async def test_after_repeated_wrong_passwords_even_the_right_one_waits_until_the_lock_passes(api):
    user = await register(api)
    await fail(api, user["email"])
    locked = await login(api, user["email"], user["password"])
    assert is_locked(locked)
    assert locked.headers["Retry-After"] == "1"
    await asyncio.sleep(1.2)
    assert (await login(api, user["email"], user["password"])).status_code == 200


async def test_the_lock_covers_the_name_in_any_case_and_spacing(api):
    user = await register(api)
    await fail(api, user["email"])
    assert is_locked(await login(api, f"  {user['email'].upper()} ", user["password"]))


async def test_a_lock_out_in_a_row_lasts_longer(api):
    user = await register(api)
    await fail(api, user["email"])
    assert (await login(api, user["email"], "x-wrong-1")).headers["Retry-After"] == "1"
    await asyncio.sleep(1.2)
    await fail(api, user["email"])
    assert (await login(api, user["email"], "x-wrong-1")).headers["Retry-After"] == "2"


async def test_a_successful_login_resets_the_count(api):
    user = await register(api)
    await fail(api, user["email"], ATTEMPTS - 1)
    assert (await login(api, user["email"], user["password"])).status_code == 200
    await fail(api, user["email"], ATTEMPTS)
    assert is_locked(await login(api, user["email"], user["password"]))


async def test_one_locked_account_does_not_lock_another(api):
    victim, other = await register(api), await register(api)
    await fail(api, victim["email"])
    assert is_locked(await login(api, victim["email"], victim["password"]))
    assert (await login(api, other["email"], other["password"])).status_code == 200
    assert (await login(api, other["username"], other["password"])).status_code == 200


async def test_an_unknown_email_is_throttled_exactly_like_a_real_one(api):
    user = await register(api)
    await fail(api, user["email"])
    await fail(api, "nobody-here@example.com")
    real = await login(api, user["email"], "guess-again")
    unknown = await login(api, "nobody-here@example.com", "guess-again")
    assert is_locked(real) and is_locked(unknown)
    assert real.json() == unknown.json()
    assert real.headers["Retry-After"] == unknown.headers["Retry-After"]


async def test_concurrent_guesses_never_get_more_than_the_allowed_attempts(api, throttled):
    user = await register(api)
    clients = [api]
    async with contextlib.AsyncExitStack() as stack:
        if throttled.distributed:  # two more processes sharing PostgreSQL and Redis
            clients += [await stack.enter_async_context(another_process(throttled)) for _ in "ab"]
        guesses = [login(clients[i % len(clients)], user["email"], f"guess-{i}") for i in range(30)]
        answers = Counter(r.status_code for r in await asyncio.gather(*guesses))
        # Even the right password, asked of any process, now waits.
        for client in clients:
            assert is_locked(await login(client, user["email"], user["password"]))
    assert answers == {401: ATTEMPTS, 429: 30 - ATTEMPTS}


@pytest.mark.parametrize("backend", ["postgres"])
async def test_logins_still_work_and_are_throttled_while_redis_is_down(make_settings, backend):
    settings = make_settings(backend, redis_url="redis://127.0.0.1:1/0", **THROTTLE)
    async with running_system(settings, services=("auth",)) as api:
        user = await register(api)
        assert (await login(api, user["email"], user["password"])).status_code == 200
        await fail(api, user["email"])
        assert is_locked(await login(api, user["email"], user["password"]))


@pytest.mark.parametrize("password", ["123456", "password", "PASSWORD1", "qwerty123"])
async def test_a_common_password_is_refused_at_registration(api, password):
    response = await api.post(
        "/api/auth/register",
        json={"email": "c@example.com", "username": "commonfan", "password": password},
    )
    assert is_error(response, 400, "ValidationError")
    assert "common" in response.json()["detail"]


async def test_a_common_password_is_refused_at_password_change(api):
    user, token = await signed_up(api)
    response = await api.post(
        "/api/auth/change-password",
        json={"current_password": user["password"], "new_password": "123456"},
        headers=bearer(token),
    )
    assert is_error(response, 400, "ValidationError")
    assert "common" in response.json()["detail"]
    assert (await login(api, user["email"], user["password"])).status_code == 200


async def test_an_uncommon_password_is_accepted(api):
    user, token = await signed_up(api, password="grated-parmesan-42")
    response = await api.post(
        "/api/auth/change-password",
        json={"current_password": user["password"], "new_password": "velvet-seats-7"},
        headers=bearer(token),
    )
    assert response.status_code == 200, response.text
    assert (await login(api, user["email"], "velvet-seats-7")).status_code == 200
