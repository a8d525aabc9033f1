"""One contract for both seat-hold adapters: in-process (embedded) and Redis (distributed)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from boxoffice.core.holds import HoldsUnavailable, MemorySeatHolds, RedisSeatHolds, SeatHolds
from tests.conftest import REDIS_URL, delete_redis_prefix


@pytest.fixture(params=["memory", "redis"])
async def holds(request: pytest.FixtureRequest) -> AsyncIterator[SeatHolds]:
    if request.param == "memory":
        yield MemorySeatHolds()
        return
    prefix = f"t{uuid.uuid4().hex[:10]}_bo:"
    redis = Redis.from_url(REDIS_URL)
    try:
        yield RedisSeatHolds(redis, prefix)
    finally:
        await redis.aclose()
        await delete_redis_prefix(prefix)


def ids(n: int) -> list[str]:
    return [str(uuid.uuid4()) for _ in range(n)]


SHOW = "7a1c5a4e-0000-4000-8000-000000000001"


async def test_a_free_seat_is_held_by_the_caller(holds):
    seat = ids(1)
    result = await holds.hold(SHOW, seat, "alice", 60)
    assert result.ok and result.acquired == tuple(seat)
    assert await holds.holders(SHOW) == {seat[0]: "alice"}


async def test_a_seat_held_by_another_is_refused_and_named(holds):
    a, b, c = ids(3)
    await holds.hold(SHOW, [a], "alice", 60)
    result = await holds.hold(SHOW, [b, a, c], "bob", 60)
    assert not result.ok
    assert result.taken == (a,)
    # all-or-nothing: bob got none of the free seats either
    assert await holds.holders(SHOW) == {a: "alice"}


async def test_holding_again_extends_the_own_hold(holds):
    seat = ids(1)
    await holds.hold(SHOW, seat, "alice", 1)
    again = await holds.hold(SHOW, seat, "alice", 60)
    assert again.ok and again.acquired == ()
    await asyncio.sleep(1.2)
    assert await holds.holders(SHOW) == {seat[0]: "alice"}


async def test_a_hold_expires_after_its_ttl(holds):
    seat = ids(1)
    await holds.hold(SHOW, seat, "alice", 1)
    await asyncio.sleep(1.2)
    assert await holds.holders(SHOW) == {}
    assert (await holds.hold(SHOW, seat, "bob", 60)).ok


async def test_only_the_owner_releases(holds):
    a, b = ids(2)
    await holds.hold(SHOW, [a, b], "alice", 60)
    assert await holds.release(SHOW, [a, b], "bob") == []
    assert await holds.holders(SHOW) == {a: "alice", b: "alice"}
    assert await holds.release(SHOW, [a], "alice") == [a]
    assert await holds.holders(SHOW) == {b: "alice"}
    assert (await holds.hold(SHOW, [a], "bob", 60)).ok


async def test_the_per_owner_cap_counts_live_holds_only(holds):
    first, second = ids(3), ids(2)
    assert (await holds.hold(SHOW, first, "alice", 60, limit=4)).ok
    over = await holds.hold(SHOW, second, "alice", 60, limit=4)
    assert over.over_limit and over.owner_count == 3
    assert set(await holds.holders(SHOW)) == set(first)
    # re-holding one's own seats does not count twice
    assert (await holds.hold(SHOW, [*first, second[0]], "alice", 60, limit=4)).ok
    await holds.release(SHOW, first, "alice")
    assert (await holds.hold(SHOW, second, "alice", 60, limit=4)).ok


async def test_holds_of_different_showtimes_are_independent(holds):
    seat = ids(1)
    other_show = str(uuid.uuid4())
    await holds.hold(SHOW, seat, "alice", 60)
    assert (await holds.hold(other_show, seat, "bob", 60)).ok
    assert await holds.holders(other_show) == {seat[0]: "bob"}


async def test_many_owners_racing_for_one_seat_leave_exactly_one_holder(holds):
    seat = ids(1)
    results = await asyncio.gather(*(holds.hold(SHOW, seat, f"u{i}", 60) for i in range(50)))
    winners = [i for i, r in enumerate(results) if r.ok]
    assert len(winners) == 1
    assert await holds.holders(SHOW) == {seat[0]: f"u{winners[0]}"}


async def test_overlapping_multi_seat_requests_never_share_a_seat(holds):
    seats = ids(12)
    requests = [(f"u{i}", seats[i % 10 : i % 10 + 3]) for i in range(30)]
    results = await asyncio.gather(*(holds.hold(SHOW, s, o, 60) for o, s in requests))
    granted: dict[str, str] = {}
    for (owner, wanted), result in zip(requests, results, strict=True):
        if result.ok:
            for seat in wanted:
                assert granted.setdefault(seat, owner) == owner
    assert await holds.holders(SHOW) == granted


async def test_redis_down_is_reported_as_holds_unavailable():
    redis = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    holds = RedisSeatHolds(redis, "down:")
    try:
        with pytest.raises(HoldsUnavailable):
            await holds.hold(SHOW, ids(1), "alice", 60)
        with pytest.raises(HoldsUnavailable):
            await holds.release(SHOW, ids(1), "alice")
        with pytest.raises(HoldsUnavailable):
            await holds.holders(SHOW)
    finally:
        await redis.aclose()


async def test_redis_keys_share_the_showtime_hash_tag():
    prefix = f"t{uuid.uuid4().hex[:10]}_bo:"
    redis = Redis.from_url(REDIS_URL)
    try:
        holds = RedisSeatHolds(redis, prefix)
        seat = ids(1)[0]
        await holds.hold(SHOW, [seat], "alice", 60)
        keys = sorted([k.decode() async for k in redis.scan_iter(match=f"{prefix}*")])
        assert f"{prefix}hold:{{{SHOW}}}:{seat}" in keys
        assert all(f"{{{SHOW}}}" in k for k in keys)
        assert await redis.get(f"{prefix}hold:{{{SHOW}}}:{seat}") == b"alice"
    finally:
        await redis.aclose()
        await delete_redis_prefix(prefix)
