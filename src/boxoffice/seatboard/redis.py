"""The seat board in Redis (distributed mode): one Lua script per change (scripts.py), one
MULTI for a snapshot, and one pub/sub connection per process feeding its listeners."""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from boxoffice.core.pubsub import Subscriber, SubscriptionUnavailable
from boxoffice.seatboard import scripts
from boxoffice.seatboard.feed import FeedHub, Subscription
from boxoffice.seatboard.types import (
    BOARD_TTL_SECONDS,
    LOG_LENGTH,
    Change,
    Delta,
    HoldResult,
    SeatBoardUnavailable,
    Snapshot,
    hold_state,
    now_ms,
    sold_state,
)

log = structlog.get_logger("boxoffice.seatboard")

_ERRORS = (RedisError, OSError)
# Showtimes whose last whole board a process keeps (the hot ones of an evening fit easily).
LAST_SNAPSHOTS = 256


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def parse_change(message: bytes | str) -> Change:
    body = json.loads(message)
    return Change(int(body["v"]), body.get("s") or {}, bool(body.get("reset")))


class RedisSeatBoard:
    """Holds and sales of every showtime in Redis, with a live feed per showtime."""

    def __init__(self, redis: Redis, prefix: str = "") -> None:
        self._redis = redis
        self._prefix = prefix
        self._hold = redis.register_script(scripts.HOLD)
        self._release = redis.register_script(scripts.RELEASE)
        self._sell = redis.register_script(scripts.SELL)
        self._confirm = redis.register_script(scripts.CONFIRM)
        self._free = redis.register_script(scripts.FREE)
        self._prune = redis.register_script(scripts.PRUNE)
        self._install = redis.register_script(scripts.INSTALL)
        self._changes = redis.register_script(scripts.CHANGES)
        self._hub = FeedHub(subscribe=self._subscribe, unsubscribe=self._unsubscribe)
        self._subscriber = Subscriber(redis, self._on_message, on_reconnect=self._hub.reset_all)
        # The last whole board read per showtime: a later read asks only for the changes since
        # (one script, a few entries) instead of the whole hash again.
        self._last: OrderedDict[str, Snapshot] = OrderedDict()

    # Keys and channels, all of one showtime under its hash tag.

    def _board_keys(self, showtime_id: str) -> list[str]:
        tag = f"{self._prefix}seats:{{{showtime_id}}}"
        return [f"{tag}:board", f"{tag}:version", f"{tag}:log"]

    def _index_key(self, showtime_id: str) -> str:
        return f"{self._prefix}holds:{{{showtime_id}}}:index"

    def _seat_key(self, showtime_id: str, seat_id: str) -> str:
        return f"{self._prefix}hold:{{{showtime_id}}}:{seat_id}"

    def channel(self, showtime_id: str) -> str:
        return f"{self._prefix}seats:{{{showtime_id}}}:feed"

    def _channel_showtime(self, channel: str) -> str:
        return channel[len(self._prefix) + len("seats:{") :].split("}", 1)[0]

    def _hold_keys(self, showtime_id: str, seat_ids: Sequence[str], owner: str) -> list[str]:
        return [
            *self._board_keys(showtime_id),
            self._index_key(showtime_id),
            f"{self._prefix}holds:{{{showtime_id}}}:owner:{owner}",
            *(self._seat_key(showtime_id, s) for s in seat_ids),
        ]

    def _args(
        self,
        showtime_id: str,
        seat_ids: Sequence[str],
        owner: str = "",
        ttl_ms: int = 0,
        cap: int = 0,
    ) -> list[str | int]:
        return [owner, ttl_ms, cap, self.channel(showtime_id), LOG_LENGTH, *seat_ids]

    async def _run(self, script: Any, keys: list[str], args: list[str | int]) -> Any:
        try:
            return await script(keys=keys, args=args)
        except _ERRORS as exc:
            raise SeatBoardUnavailable(str(exc)) from exc

    # Changes

    async def hold(
        self,
        showtime_id: str,
        seat_ids: Sequence[str],
        owner: str,
        ttl_seconds: int,
        *,
        limit: int = 0,
    ) -> HoldResult:
        seat_ids = list(dict.fromkeys(seat_ids))
        if not seat_ids:
            return HoldResult(ok=True)
        reply = await self._run(
            self._hold,
            self._hold_keys(showtime_id, seat_ids, owner),
            self._args(showtime_id, seat_ids, owner, int(ttl_seconds * 1000), limit),
        )
        code = int(reply[0])
        if code == 1:
            return HoldResult(
                ok=True,
                owner_count=int(reply[1]),
                acquired=tuple(_text(v) for v in reply[3:]),
                knows_sales=bool(int(reply[2])),
            )
        if code == 2:
            return HoldResult(ok=False, over_limit=True, owner_count=int(reply[1]))
        return HoldResult(
            ok=False, taken=tuple(_text(v) for v in reply[2:]), knows_sales=bool(int(reply[1]))
        )

    async def release(self, showtime_id: str, seat_ids: Sequence[str], owner: str) -> list[str]:
        seat_ids = list(dict.fromkeys(seat_ids))
        if not seat_ids:
            return []
        reply = await self._run(
            self._release,
            self._hold_keys(showtime_id, seat_ids, owner),
            self._args(showtime_id, seat_ids, owner),
        )
        return [_text(v) for v in reply]

    async def sell(
        self,
        showtime_id: str,
        seat_ids: Sequence[str],
        owner: str,
        *,
        unpaid_until_ms: int | None = None,
    ) -> None:
        seat_ids = list(dict.fromkeys(seat_ids))
        if seat_ids:
            args = self._args(showtime_id, seat_ids, owner)
            args[1] = sold_state(unpaid_until_ms)
            await self._run(self._sell, self._hold_keys(showtime_id, seat_ids, owner), args)

    async def confirm(self, showtime_id: str, seat_ids: Sequence[str]) -> None:
        seat_ids = list(dict.fromkeys(seat_ids))
        if seat_ids:
            await self._run(
                self._confirm, self._board_keys(showtime_id), self._args(showtime_id, seat_ids)
            )

    async def free(self, showtime_id: str, seat_ids: Sequence[str]) -> None:
        seat_ids = list(dict.fromkeys(seat_ids))
        if seat_ids:
            await self._run(
                self._free, self._board_keys(showtime_id), self._args(showtime_id, seat_ids)
            )

    async def prune(self, showtime_id: str) -> None:
        await self._run(
            self._prune,
            [*self._board_keys(showtime_id), self._index_key(showtime_id)],
            self._args(showtime_id, []),
        )

    async def install(self, showtime_id: str, sold: Mapping[str, str]) -> int:
        holds = await self._live_holds(showtime_id)
        pairs = [
            v for states in (sold, holds) for seat, state in states.items() for v in (seat, state)
        ]
        reply = await self._run(
            self._install,
            self._board_keys(showtime_id),
            [self.channel(showtime_id), LOG_LENGTH, BOARD_TTL_SECONDS, *pairs],
        )
        return int(_text(reply[1]))

    # Reads

    async def _live_holds(self, showtime_id: str) -> dict[str, str]:
        """seat -> hold state, from the hold keys (the holds' truth)."""
        try:
            indexed: list[tuple[bytes, float]] = await self._redis.zrangebyscore(  # type: ignore[assignment]
                self._index_key(showtime_id), now_ms(), "+inf", withscores=True
            )
            if not indexed:
                return {}
            seats = [_text(seat) for seat, _ in indexed]
            owners = await self._redis.mget([self._seat_key(showtime_id, s) for s in seats])
        except _ERRORS as exc:
            raise SeatBoardUnavailable(str(exc)) from exc
        return {
            seat: hold_state(_text(owner), int(expires))
            for seat, (_, expires), owner in zip(seats, indexed, owners, strict=True)
            if owner
        }

    async def holders(self, showtime_id: str) -> dict[str, str]:
        holds = await self._live_holds(showtime_id)
        return {seat: state.split(":", 1)[1] for seat, state in holds.items()}

    async def snapshot(self, showtime_id: str) -> Snapshot | None:
        """The whole board. Read once in full, then brought up to date from the change log:
        during a rush the board changes with every sale, and reading all of a 2,000-seat hash
        again for each version was most of the seat map's and booking's CPU (py-spy, issue 9).
        The log holds the raw states in order, so the result is the same as a full read; when
        the log cannot bridge the gap (too old, rebuilt, not installed) the board is read whole.
        """
        last = self._last.get(showtime_id)
        if last is not None:
            delta = await self.changes_since(showtime_id, last.version)
            if delta.states is not None:
                if delta.version == last.version:
                    return last
                states = dict(last.states)
                for seat, state in delta.states.items():
                    if state:
                        states[seat] = state
                    else:
                        states.pop(seat, None)
                return self._remember(showtime_id, Snapshot(delta.version, states))
        try:
            whole = await self._redis.hgetall(self._board_keys(showtime_id)[0])
        except _ERRORS as exc:
            raise SeatBoardUnavailable(str(exc)) from exc
        version = whole.pop(b"_ready", None)
        if version is None:
            self._last.pop(showtime_id, None)
            return None
        snapshot = Snapshot(
            int(version), {_text(seat): _text(state) for seat, state in whole.items()}
        )
        return self._remember(showtime_id, snapshot)

    def _remember(self, showtime_id: str, snapshot: Snapshot) -> Snapshot:
        self._last[showtime_id] = snapshot
        self._last.move_to_end(showtime_id)
        while len(self._last) > LAST_SNAPSHOTS:
            self._last.popitem(last=False)
        return snapshot

    async def version(self, showtime_id: str) -> int | None:
        try:
            version = await self._redis.hget(self._board_keys(showtime_id)[0], "_ready")
        except _ERRORS as exc:
            raise SeatBoardUnavailable(str(exc)) from exc
        return None if version is None else int(version)

    async def changes_since(self, showtime_id: str, version: int) -> Delta:
        reply = await self._run(self._changes, self._board_keys(showtime_id), [str(version)])
        current, code = int(_text(reply[0])), int(reply[1])
        if code < 0:
            return Delta(current, None)
        merged: dict[str, str] = {}
        for message in reply[2:]:
            change = parse_change(message)
            if change.reset:
                return Delta(current, None)
            merged.update(change.states)
        return Delta(current, merged)

    def listen(self, showtime_id: str) -> AbstractAsyncContextManager[Subscription]:
        return self._hub.listen(showtime_id)

    async def _subscribe(self, showtime_id: str) -> None:
        try:
            await self._subscriber.subscribe(self.channel(showtime_id))
        except SubscriptionUnavailable as exc:
            raise SeatBoardUnavailable(str(exc)) from exc

    async def _unsubscribe(self, showtime_id: str) -> None:
        if self._hub.listener_count(showtime_id) == 0:
            self._subscriber.unsubscribe(self.channel(showtime_id))

    def _on_message(self, channel: str, data: bytes) -> None:
        self._hub.publish(self._channel_showtime(channel), parse_change(data))

    async def aclose(self) -> None:
        await self._subscriber.aclose()
