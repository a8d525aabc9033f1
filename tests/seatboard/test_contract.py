"""One contract for both seat-board adapters: in-process (embedded) and Redis (distributed):
holds (owned, all-or-nothing, expiring, capped), sales, snapshots, deltas and the live feed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from boxoffice.core.runtime import memory_runtime, redis_runtime
from boxoffice.seatboard import (
    MemorySeatBoard,
    RedisSeatBoard,
    SeatBoard,
    SeatBoardUnavailable,
    now_ms,
    public_status,
    seat_board,
    use_seat_board,
)
from tests.conftest import REDIS_URL, delete_redis_prefix


@pytest.fixture(params=["memory", "redis"])
async def holds(request: pytest.FixtureRequest) -> AsyncIterator[SeatBoard]:
    if request.param == "memory":
        yield MemorySeatBoard()
        return
    prefix = f"t{uuid.uuid4().hex[:10]}_bo:"
    redis = Redis.from_url(REDIS_URL)
    try:
        board = RedisSeatBoard(redis, prefix)
        yield board
    finally:
        await board.aclose()
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
    holds = RedisSeatBoard(redis, "down:")
    try:
        with pytest.raises(SeatBoardUnavailable):
            await holds.hold(SHOW, ids(1), "alice", 60)
        with pytest.raises(SeatBoardUnavailable):
            await holds.release(SHOW, ids(1), "alice")
        with pytest.raises(SeatBoardUnavailable):
            await holds.holders(SHOW)
    finally:
        await redis.aclose()


async def test_redis_keys_share_the_showtime_hash_tag():
    prefix = f"t{uuid.uuid4().hex[:10]}_bo:"
    redis = Redis.from_url(REDIS_URL)
    try:
        holds = RedisSeatBoard(redis, prefix)
        seat = ids(1)[0]
        await holds.hold(SHOW, [seat], "alice", 60)
        keys = sorted([k.decode() async for k in redis.scan_iter(match=f"{prefix}*")])
        assert f"{prefix}hold:{{{SHOW}}}:{seat}" in keys
        assert all(f"{{{SHOW}}}" in k for k in keys)
        assert await redis.get(f"{prefix}hold:{{{SHOW}}}:{seat}") == b"alice"
    finally:
        await redis.aclose()
        await delete_redis_prefix(prefix)


# The board: sales, snapshots, deltas and the feed.


async def test_the_board_is_not_ready_until_installed_from_the_database(holds):
    a, b = ids(2)
    assert await holds.snapshot(SHOW) is None
    held = await holds.hold(SHOW, [b], "alice", 60)
    assert held.ok and not held.knows_sales  # sold seats are the database's to say, for now

    version = await holds.install(SHOW, {a: "B"})

    snapshot = await holds.snapshot(SHOW)
    assert snapshot is not None and snapshot.version == version
    assert snapshot.states[a] == "B"
    assert public_status(snapshot.states[b], "alice", 0) == "mine"
    assert await holds.install(SHOW, {}) == version  # a second install changes nothing


async def test_sold_seats_are_refused_once_the_board_knows_them(holds):
    a, b = ids(2)
    await holds.install(SHOW, {a: "B"})
    refused = await holds.hold(SHOW, [b, a], "bob", 60)
    assert not refused.ok and refused.taken == (a,) and refused.knows_sales
    assert await holds.holders(SHOW) == {}


async def test_selling_ends_the_owners_holds_and_freeing_gives_the_seats_back(holds):
    a, b, c = ids(3)
    await holds.install(SHOW, {})
    await holds.hold(SHOW, [a, b], "alice", 60)
    await holds.hold(SHOW, [c], "carol", 60)

    await holds.sell(SHOW, [a, b], "alice")
    await holds.free(SHOW, [a, c])  # only sold seats are freed: carol keeps her hold

    snapshot = await holds.snapshot(SHOW)
    assert snapshot is not None and snapshot.states[b] == "B" and a not in snapshot.states
    assert public_status(snapshot.states[c], "bob", 0) == "held"
    assert await holds.holders(SHOW) == {c: "carol"}
    assert (await holds.hold(SHOW, [a], "bob", 60)).ok


async def test_changes_since_a_version_are_the_newest_states_of_the_seats_that_changed(holds):
    a, b = ids(2)
    start = await holds.install(SHOW, {})
    await holds.hold(SHOW, [a], "alice", 60)
    await holds.sell(SHOW, [a], "alice")
    await holds.hold(SHOW, [b], "bob", 60)
    await holds.release(SHOW, [b], "bob")

    delta = await holds.changes_since(SHOW, start)

    assert delta.states == {a: "B", b: ""}
    assert delta.version == (await holds.snapshot(SHOW)).version == start + 4
    assert (await holds.changes_since(SHOW, delta.version)).states == {}
    # a version from before the install (or any unknown one) asks for a snapshot
    assert (await holds.changes_since(SHOW, start - 1)).states is None
    assert (await holds.changes_since(SHOW, delta.version + 7)).states is None


async def test_a_change_made_while_the_install_read_the_database_is_kept(holds):
    sold_then_freed, sold_later = ids(2)
    read_from_database = [sold_then_freed]  # the install's read, a moment before:
    await holds.free(SHOW, [sold_then_freed])  # ...that booking is cancelled meanwhile
    await holds.sell(SHOW, [sold_later], "dave")  # ...and another committed

    await holds.install(SHOW, {s: "B" for s in read_from_database})

    snapshot = await holds.snapshot(SHOW)
    assert snapshot is not None and snapshot.states == {sold_later: "B"}


async def test_listeners_hear_every_change_in_order_and_a_reset_on_rebuild(holds):
    a = ids(1)[0]
    await holds.install(SHOW, {})
    async with holds.listen(SHOW) as feed:
        await holds.hold(SHOW, [a], "alice", 60)
        await holds.sell(SHOW, [a], "alice")
        first = await asyncio.wait_for(anext(feed), 2)
        second = await asyncio.wait_for(anext(feed), 2)
    assert public_status(first.states[a], "alice", 0) == "mine"
    assert second.states == {a: "B"} and second.version == first.version + 1


async def test_a_lapsed_hold_leaves_the_board_and_listeners_hear_it(holds):
    a = ids(1)[0]
    await holds.install(SHOW, {})
    await holds.hold(SHOW, [a], "alice", 1)
    async with holds.listen(SHOW) as feed:
        await asyncio.sleep(1.1)
        await holds.prune(SHOW)
        change = await asyncio.wait_for(anext(feed), 2)
    assert change.states == {a: ""}
    assert (await holds.snapshot(SHOW)).states == {}


def test_what_a_seat_map_shows_for_each_state():
    assert public_status("B", "alice", 5) == "booked"
    assert public_status("H10:alice", "alice", 5) == "mine"
    assert public_status("H10:alice", "bob", 5) == "held"
    assert public_status("H10:alice", None, 5) == "held"
    assert public_status("H10:alice", "alice", 10) == "available"  # lapsed


async def test_the_version_says_whether_a_copy_is_current(holds):
    assert await holds.version(SHOW) is None
    installed = await holds.install(SHOW, {})
    assert await holds.version(SHOW) == installed
    await holds.hold(SHOW, ids(1), "alice", 60)
    assert await holds.version(SHOW) == installed + 1


async def test_an_unpaid_sale_frees_its_seats_when_its_time_runs_out_unless_paid(holds):
    unpaid, paid = ids(2)
    await holds.install(SHOW, {})
    soon = now_ms() + 800
    await holds.sell(SHOW, [unpaid, paid], "alice", unpaid_until_ms=soon)
    await holds.confirm(SHOW, [paid])
    assert not (await holds.hold(SHOW, [unpaid], "bob", 60)).ok

    await asyncio.sleep(1.0)

    snapshot = await holds.snapshot(SHOW)
    assert public_status(snapshot.states[unpaid], "bob", now_ms()) == "available"
    assert public_status(snapshot.states[paid], "bob", now_ms()) == "booked"
    assert (await holds.hold(SHOW, [unpaid], "bob", 60)).ok  # ran out: free to take
    assert not (await holds.hold(SHOW, [paid], "bob", 60)).ok


async def test_a_runtime_holds_one_board_for_its_services(make_settings):
    """In-process on a memory runtime, on Redis (under the system's prefix) on a Redis one;
    built once, shared by every caller, replaceable (tests), closed with the runtime."""
    memory = memory_runtime(make_settings())
    board = seat_board(memory)
    assert isinstance(board, MemorySeatBoard)
    assert seat_board(memory) is board
    other = MemorySeatBoard()
    use_seat_board(memory, other)
    assert seat_board(memory) is other
    await memory.aclose()

    settings = make_settings("postgres")
    distributed = redis_runtime(settings)
    try:
        board = seat_board(distributed)
        assert isinstance(board, RedisSeatBoard)
        assert seat_board(distributed) is board
    finally:
        await distributed.aclose()
        await delete_redis_prefix(f"{settings.db_prefix}bo:")


async def test_a_redis_snapshot_kept_up_to_date_from_the_log_equals_a_whole_read():
    """The Redis board reads a showtime whole once, then only its changes (issue 9): after
    every kind of change, in a long random sequence, it answers what a fresh read answers."""
    import random

    prefix = f"t{uuid.uuid4().hex[:10]}_bo:"
    redis = Redis.from_url(REDIS_URL)
    kept, fresh = RedisSeatBoard(redis, prefix), None
    try:
        seats = ids(30)
        await kept.install(SHOW, {seats[0]: "B"})
        assert (await kept.snapshot(SHOW)).states == {seats[0]: "B"}  # read whole, kept
        rng = random.Random(9)
        owners = ["alice", "bob", "carol"]
        for step in range(120):
            chosen = rng.sample(seats, rng.randint(1, 4))
            owner = rng.choice(owners)
            action = rng.choice(["hold", "hold", "release", "sell", "confirm", "free"])
            if action == "hold":
                await kept.hold(SHOW, chosen, owner, 60)
            elif action == "release":
                await kept.release(SHOW, chosen, owner)
            elif action == "sell":
                await kept.sell(SHOW, chosen, owner)
            elif action == "confirm":
                await kept.confirm(SHOW, chosen)
            else:
                await kept.free(SHOW, chosen)
            fresh = RedisSeatBoard(redis, prefix)  # nothing kept: reads the whole hash
            mine, whole = await kept.snapshot(SHOW), await fresh.snapshot(SHOW)
            await fresh.aclose()
            assert mine is not None and whole is not None
            assert (mine.version, dict(mine.states)) == (whole.version, dict(whole.states)), step

        # Redis loses the board (a restart): not installed, whatever was kept; then rebuilt.
        await delete_redis_prefix(prefix)
        assert await kept.snapshot(SHOW) is None
        await kept.install(SHOW, {seats[1]: "B"})
        assert dict((await kept.snapshot(SHOW)).states) == {seats[1]: "B"}
    finally:
        await kept.aclose()
        await redis.aclose()
        await delete_redis_prefix(prefix)
