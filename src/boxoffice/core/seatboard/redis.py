"""The seat board in Redis (distributed mode): one Lua script per change (scripts.py), one
MULTI for a snapshot, and one pub/sub connection per process feeding its listeners."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from boxoffice.core.seatboard import scripts
from boxoffice.core.seatboard.feed import FeedHub, Subscription
from boxoffice.core.seatboard.types import (
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

SUBSCRIBE_TIMEOUT_SECONDS = 2.0
_FEED_POLL_SECONDS = 0.05
_ERRORS = (RedisError, OSError)


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
        self._feed = _RedisFeed(redis, self.channel, self._channel_showtime)

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
            indexed = await self._redis.zrangebyscore(
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
        board, version, _ = self._board_keys(showtime_id)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                states, current = await pipe.hgetall(board).get(version).execute()
        except _ERRORS as exc:
            raise SeatBoardUnavailable(str(exc)) from exc
        if b"_ready" not in states and "_ready" not in states:
            return None
        return Snapshot(
            int(current or 0),
            {
                _text(seat): _text(state)
                for seat, state in states.items()
                if seat not in (b"_ready", "_ready")
            },
        )

    async def version(self, showtime_id: str) -> int | None:
        board, version, _ = self._board_keys(showtime_id)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                ready, current = await pipe.hexists(board, "_ready").get(version).execute()
        except _ERRORS as exc:
            raise SeatBoardUnavailable(str(exc)) from exc
        return int(current) if ready and current is not None else None

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
        return self._feed.hub.listen(showtime_id)

    async def aclose(self) -> None:
        await self._feed.aclose()


class _RedisFeed:
    """One pub/sub connection per process, subscribed to the showtimes its listeners watch.

    One task owns the connection (pub/sub connections are not shared between tasks); listeners
    ask it to subscribe and wait until Redis confirmed, so a snapshot taken after that misses
    no change. After a lost connection it subscribes again and resets every listener.
    """

    def __init__(
        self, redis: Redis, channel_of: Callable[[str], str], showtime_of: Callable[[str], str]
    ) -> None:
        self._redis = redis
        self._channel_of = channel_of
        self._showtime_of = showtime_of
        self.hub = FeedHub(subscribe=self._subscribe, unsubscribe=self._unsubscribe)
        self._wanted: dict[str, list[asyncio.Future[None]]] = {}
        self._active: set[str] = set()
        self._commands: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def _subscribe(self, showtime_id: str) -> None:
        if showtime_id in self._active:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._wanted.setdefault(showtime_id, []).append(waiter)
        self._commands.put_nowait(("subscribe", showtime_id))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="seatboard-feed")
        try:
            await asyncio.wait_for(asyncio.shield(waiter), SUBSCRIBE_TIMEOUT_SECONDS)
        except TimeoutError:
            raise SeatBoardUnavailable("the live seat feed is not reachable") from None

    async def _unsubscribe(self, showtime_id: str) -> None:
        self._commands.put_nowait(("unsubscribe", showtime_id))

    async def _run(self) -> None:
        delay = 0.2
        interrupted = False
        while True:
            pubsub = self._redis.pubsub()
            try:
                self._active.clear()
                for showtime_id in self.hub.showtimes:
                    await pubsub.subscribe(self._channel_of(showtime_id))
                if interrupted:
                    self.hub.reset_all()
                    log.info("seat_feed_reconnected")
                interrupted = False
                delay = 0.2
                await self._pump(pubsub)
            except asyncio.CancelledError:
                raise
            except _ERRORS as exc:
                interrupted = True
                self._active.clear()
                log.warning("seat_feed_interrupted", error=repr(exc), retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def _pump(self, pubsub: Any) -> None:
        while True:
            while not self._commands.empty():
                command, showtime_id = self._commands.get_nowait()
                wanted = self.hub.listener_count(showtime_id) > 0
                if command == "subscribe" and wanted and showtime_id not in self._active:
                    await pubsub.subscribe(self._channel_of(showtime_id))
                elif command == "unsubscribe" and not wanted:
                    self._active.discard(showtime_id)
                    await pubsub.unsubscribe(self._channel_of(showtime_id))
                elif command == "subscribe" and showtime_id in self._active:
                    self._confirm(showtime_id)
            if not pubsub.subscribed:
                command = await self._commands.get()
                self._commands.put_nowait(command)
                continue
            message = await pubsub.get_message(timeout=_FEED_POLL_SECONDS)
            if message is None:
                continue
            showtime_id = self._showtime_of(_text(message["channel"]))
            if message["type"] == "subscribe":
                self._active.add(showtime_id)
                self._confirm(showtime_id)
            elif message["type"] == "message":
                self.hub.publish(showtime_id, parse_change(message["data"]))

    def _confirm(self, showtime_id: str) -> None:
        for waiter in self._wanted.pop(showtime_id, []):
            if not waiter.done():
                waiter.set_result(None)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
