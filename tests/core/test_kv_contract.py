"""One contract for both implementations of each key-value adapter (core/kv.py): the catalog
cache (MemoryCache, RedisCache) and the token revocation list (FileRevocationStore,
RedisRevocationStore). Redis runs against the real server, under a key prefix of its own per
test, removed afterwards."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from redis.asyncio import Redis

from boxoffice.core.kv import (
    Cache,
    FileRevocationStore,
    MemoryCache,
    RedisCache,
    RedisRevocationStore,
    RevocationStore,
)
from tests.conftest import REDIS_URL, delete_redis_prefix


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    """Wait until `check()` is true: expiry happens some time after the TTL, not at an instant."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not true after {timeout}s: {check.__name__}")
        await asyncio.sleep(0.1)


@pytest.fixture(params=["memory", "redis"])
async def new_space(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Callable[[type], Cache | RevocationStore]]:
    """Makes adapters, each in a key space of its own: a fresh instance in memory (a fresh file
    for the revocation list), a fresh prefix on the one Redis server."""
    if request.param == "memory":
        memory = {
            Cache: MemoryCache,
            RevocationStore: lambda: FileRevocationStore(tmp_path / f"{uuid.uuid4().hex}.db"),
        }
        yield lambda kind: memory[kind]()
        return
    redis = Redis.from_url(REDIS_URL)
    test_prefix = f"kvtest:{uuid.uuid4().hex}:"
    redis_kinds = {Cache: RedisCache, RevocationStore: RedisRevocationStore}

    made: list[Cache | RevocationStore] = []

    def make(kind: type) -> Cache | RevocationStore:
        made.append(redis_kinds[kind](redis, f"{test_prefix}{uuid.uuid4().hex[:8]}:"))
        return made[-1]

    try:
        yield make
    finally:
        for adapter in made:
            if hasattr(adapter, "aclose"):
                await adapter.aclose()
        await redis.aclose()
        await delete_redis_prefix(test_prefix)


@pytest.fixture
def cache(new_space) -> Cache:
    return new_space(Cache)


@pytest.fixture
def revocations(new_space) -> RevocationStore:
    return new_space(RevocationStore)


# The cache


async def test_a_value_set_is_read_back_until_deleted(cache):
    assert await cache.get("movies:list") is None
    await cache.set("movies:list", '[{"title": "Lật Mặt 7"}]', 60)
    assert await cache.get("movies:list") == '[{"title": "Lật Mặt 7"}]'
    await cache.set("movies:list", "[]", 60)
    assert await cache.get("movies:list") == "[]"
    await cache.delete("movies:list")
    assert await cache.get("movies:list") is None
    await cache.delete("never-set")  # deleting what is not there is fine


async def test_a_value_expires_after_its_ttl_and_others_stay(cache):
    await cache.set("short", "a", 1)
    await cache.set("long", "b", 60)
    assert await cache.get("short") == "a"

    async def short_expired() -> bool:
        return await cache.get("short") is None

    await eventually(short_expired)
    assert await cache.get("long") == "b"


async def test_counters_count_from_one_without_losing_concurrent_increments(cache):
    assert await cache.incr("version") == 1
    assert await cache.incr("version") == 2
    assert await cache.incr("other") == 1
    results = await asyncio.gather(*(cache.incr("busy") for _ in range(50)))
    assert sorted(results) == list(range(1, 51))
    assert await cache.get("busy") == "50"


async def test_key_spaces_do_not_see_each_other(new_space):
    one, two = new_space(Cache), new_space(Cache)
    await one.set("shared-name", "one", 60)
    assert await two.get("shared-name") is None
    await two.set("shared-name", "two", 60)
    assert await one.get("shared-name") == "one"
    assert await one.incr("counter") == 1
    assert await two.incr("counter") == 1
    await two.delete("shared-name")
    assert await one.get("shared-name") == "one"


# The revocation list


async def test_a_revoked_token_stays_revoked_until_its_ttl_and_not_after(revocations):
    jti, other = uuid.uuid4().hex, uuid.uuid4().hex
    assert await revocations.is_revoked(jti) is False
    await revocations.revoke(jti, 1)
    assert await revocations.is_revoked(jti) is True
    assert await revocations.is_revoked(other) is False

    async def no_longer_revoked() -> bool:
        return await revocations.is_revoked(jti) is False

    await eventually(no_longer_revoked)


async def test_a_token_revoked_with_no_time_left_is_still_revoked_at_once(revocations):
    # A token that expires this very second is revoked for a moment rather than not at all.
    jti = uuid.uuid4().hex
    await revocations.revoke(jti, 0)
    assert await revocations.is_revoked(jti) is True


async def test_revocation_lists_do_not_see_each_other(new_space):
    one, two = new_space(RevocationStore), new_space(RevocationStore)
    jti = uuid.uuid4().hex
    await one.revoke(jti, 60)
    assert await one.is_revoked(jti) is True
    assert await two.is_revoked(jti) is False


# Users' not-befores (issue 11, finding 3)


async def test_a_not_before_is_answered_with_the_revocation_until_its_ttl(revocations):
    user, other, jti = str(uuid.uuid4()), str(uuid.uuid4()), uuid.uuid4().hex
    assert await revocations.check(jti, user) == (False, None)
    await revocations.set_not_before(user, 1_700_000_000_123, 1)
    await revocations.revoke(jti, 60)
    assert await revocations.check(jti, user) == (True, 1_700_000_000_123)
    assert await revocations.check(uuid.uuid4().hex, other) == (False, None)

    async def forgotten() -> bool:
        return (await revocations.check(jti, user))[1] is None

    await eventually(forgotten)


async def test_a_later_not_before_replaces_an_earlier_one(revocations):
    user = str(uuid.uuid4())
    await revocations.set_not_before(user, 1_000, 60)
    await revocations.set_not_before(user, 2_000, 60)
    assert (await revocations.check("jti", user))[1] == 2_000
