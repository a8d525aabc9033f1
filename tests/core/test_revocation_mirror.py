"""The revocation list as several processes see it (RedisRevocationStore): each keeps a mirror
in memory, so a token check costs no round trip, and a logout anywhere reaches every mirror."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from redis.asyncio import Redis

from boxoffice.core.kv import RedisRevocationStore
from tests.conftest import REDIS_URL, delete_redis_prefix, eventually


@pytest.fixture
async def process() -> AsyncIterator[Callable[[], RedisRevocationStore]]:
    """Makes the revocation store of one more process: its own Redis connection, one list."""
    prefix = f"t{uuid.uuid4().hex[:10]}_bo:"
    made: list[tuple[Redis, RedisRevocationStore]] = []

    def start() -> RedisRevocationStore:
        redis = Redis.from_url(REDIS_URL)
        made.append((redis, RedisRevocationStore(redis, prefix)))
        return made[-1][1]

    try:
        yield start
    finally:
        for redis, store in made:
            await store.aclose()
            await redis.aclose()
        await delete_redis_prefix(prefix)


async def mirrored(store: RedisRevocationStore) -> None:
    await store.is_revoked("first-check-starts-the-mirror")
    await eventually(lambda: store.mirrored, timeout=5)


async def test_a_logout_in_one_process_reaches_every_other_process(process):
    auth, booking = process(), process()
    earlier, later = uuid.uuid4().hex, uuid.uuid4().hex
    await auth.revoke(earlier, 60)  # before booking's mirror existed: it is loaded
    await mirrored(booking)
    assert await booking.is_revoked(earlier)

    await auth.revoke(later, 60)

    async def seen() -> bool:
        return await booking.is_revoked(later)

    await eventually(seen, timeout=2)
    assert not await booking.is_revoked(uuid.uuid4().hex)


async def test_once_mirrored_a_check_asks_redis_nothing(process, monkeypatch):
    auth, payment = process(), process()
    revoked = uuid.uuid4().hex
    await auth.revoke(revoked, 60)
    await mirrored(payment)

    async def no_round_trips(*_, **__):
        raise AssertionError("the check went to Redis")

    monkeypatch.setattr(payment._redis, "exists", no_round_trips)
    assert await payment.is_revoked(revoked)
    assert not await payment.is_revoked(uuid.uuid4().hex)
