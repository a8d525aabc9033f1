"""A Redis restart without persistence must not bring logged-out or cut-off tokens back
(SPEC 4.8: "logout revokes the token until it expires"). The auth database keeps both; the auth
service notices the emptied store and copies them back within seconds, so a process that
starts (or reloads its mirror) after the restart refuses them again."""

from __future__ import annotations

import asyncio
import time

import pytest
from redis.asyncio import Redis

from boxoffice.core.auth import decode_token
from boxoffice.core.kv import RedisRevocationStore
from boxoffice.core.runtime import redis_prefix
from tests.auth.helpers import signed_up, token_of
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, REDIS_URL, bearer, delete_redis_prefix

pytestmark = pytest.mark.parametrize("backend", ["postgres"], indirect=True)


async def test_logouts_and_cut_offs_come_back_after_redis_loses_its_data(api):
    settings = api.runtime.settings  # type: ignore[attr-defined]
    _, logged_out = await signed_up(api)
    response = await api.post("/api/auth/logout", headers=bearer(logged_out))
    assert response.status_code == 200, response.text
    demoted_user, _ = await signed_up(api)
    demoted_before = await token_of(api, demoted_user["email"], demoted_user["password"])
    admin = await token_of(api, ADMIN_EMAIL, ADMIN_PASSWORD)
    response = await api.post(
        f"/api/auth/users/{demoted_user['id']}/deactivate", headers=bearer(admin)
    )
    assert response.status_code == 200, response.text

    # What a Redis restart without persistence leaves: none of the system's keys.
    prefix = redis_prefix(settings)
    await delete_redis_prefix(prefix)

    # A process started after the restart (its own connection and an empty mirror).
    redis = Redis.from_url(REDIS_URL)
    newcomer = RedisRevocationStore(redis, prefix)
    out = decode_token(settings, logged_out)
    cut = decode_token(settings, demoted_before)
    try:
        deadline = time.monotonic() + 10
        while True:
            revoked, _ = await newcomer.check(out.jti, str(out.user_id))
            _, not_before = await newcomer.check(cut.jti, str(cut.user_id))
            if revoked and not_before is not None:
                break
            assert time.monotonic() < deadline, (
                f"after 10 s the store still lacks the logout ({revoked}) "
                f"or the cut-off ({not_before}) the auth database holds"
            )
            await newcomer.aclose()
            newcomer = RedisRevocationStore(redis, prefix)
            await asyncio.sleep(0.25)
    finally:
        await newcomer.aclose()
        await redis.aclose()
    # And through the services: both tokens are still refused.
    for token in (logged_out, demoted_before):
        response = await api.get("/api/bookings/bookings", headers=bearer(token))
        assert response.status_code == 401, response.text
