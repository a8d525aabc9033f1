"""One Redis pub/sub connection per process, owned by one task, for everything that listens.

Used by the seat board's live feed (a channel per watched showtime) and by the token
revocation mirror (one channel). Callers ask for a channel and wait until Redis confirmed the
subscription, so whatever they read after that cannot miss a message. A lost connection is
reopened with backoff; every subscription is then renewed and `on_reconnect` tells the owner
that messages may have been missed in between (`on_disconnect` says so as soon as it breaks).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

log = structlog.get_logger("boxoffice.pubsub")

SUBSCRIBE_TIMEOUT_SECONDS = 2.0
_POLL_SECONDS = 0.05
# A ping this often notices a connection that died without a word (no RST).
_HEALTH_CHECK_SECONDS = 5.0


class SubscriptionUnavailable(Exception):
    """Redis did not confirm the subscription in time."""


class Subscriber:
    """Channels this process listens to, and what to do with their messages."""

    def __init__(
        self,
        redis: Redis,
        on_message: Callable[[str, bytes], None],
        on_reconnect: Callable[[], None] | None = None,
        on_disconnect: Callable[[], None] | None = None,
    ) -> None:
        self._redis = redis
        self._on_message = on_message
        self._on_reconnect = on_reconnect
        self._on_disconnect = on_disconnect
        self._wanted: set[str] = set()
        self._active: set[str] = set()
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._commands: asyncio.Queue[None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        # Checked every turn: a cancellation that lands inside redis-py's read timeout can be
        # taken for that timeout and lost, so stopping does not rely on it alone.
        self._stopping = False

    @property
    def connected(self) -> bool:
        """Whether messages are flowing now (every wanted channel is confirmed)."""
        return bool(self._wanted) and self._wanted <= self._active

    async def subscribe(self, channel: str, *, wait: bool = True) -> None:
        """Listen to `channel`; with `wait`, return once Redis confirmed it."""
        self._wanted.add(channel)
        if channel in self._active:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(channel, []).append(waiter)
        self._commands.put_nowait(None)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="redis-pubsub")
        if not wait:
            return
        try:
            await asyncio.wait_for(asyncio.shield(waiter), SUBSCRIBE_TIMEOUT_SECONDS)
        except TimeoutError:
            raise SubscriptionUnavailable(f"no subscription to {channel} yet") from None

    def unsubscribe(self, channel: str) -> None:
        self._wanted.discard(channel)
        self._commands.put_nowait(None)

    async def _run(self) -> None:
        delay = 0.2
        interrupted = False
        while not self._stopping:
            pubsub = self._redis.pubsub()
            try:
                self._active.clear()
                await self._sync(pubsub)
                if interrupted and self._on_reconnect is not None:
                    self._on_reconnect()
                interrupted = False
                delay = 0.2
                await self._pump(pubsub)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                interrupted = True
                self._active.clear()
                if self._on_disconnect is not None:
                    self._on_disconnect()
                log.warning("pubsub_interrupted", error=repr(exc), retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def _sync(self, pubsub: object) -> None:
        """Bring the connection's subscriptions in line with what is wanted."""
        subscribed = set(pubsub.channels)  # type: ignore[attr-defined]
        wanted = {c.encode() for c in self._wanted}
        if wanted - subscribed:
            await pubsub.subscribe(*sorted(wanted - subscribed))  # type: ignore[attr-defined]
        gone = {c for c in subscribed - wanted if isinstance(c, bytes)}
        if gone:
            await pubsub.unsubscribe(*sorted(gone))  # type: ignore[attr-defined]
            self._active -= {c.decode() for c in gone}

    async def _pump(self, pubsub: object) -> None:
        loop = asyncio.get_running_loop()
        next_ping = loop.time() + _HEALTH_CHECK_SECONDS
        heard = loop.time()
        while not self._stopping:
            if not self._commands.empty():
                while not self._commands.empty():
                    self._commands.get_nowait()
                await self._sync(pubsub)
            if not self._wanted:
                await self._commands.get()
                continue
            if loop.time() >= next_ping:
                if loop.time() - heard > 3 * _HEALTH_CHECK_SECONDS:
                    raise ConnectionError("Redis stopped answering the pub/sub connection")
                await pubsub.ping()  # type: ignore[attr-defined]
                next_ping = loop.time() + _HEALTH_CHECK_SECONDS
            message = await pubsub.get_message(timeout=_POLL_SECONDS)  # type: ignore[attr-defined]
            if message is None:
                continue
            heard = loop.time()
            kind = message["type"]
            channel = message["channel"]
            channel = channel.decode() if isinstance(channel, bytes) else channel
            if kind == "subscribe":
                self._active.add(channel)
                for waiter in self._waiters.pop(channel, []):
                    if not waiter.done():
                        waiter.set_result(None)
            elif kind == "message":
                self._on_message(channel, message["data"])

    async def aclose(self) -> None:
        self._stopping = True
        self._commands.put_nowait(None)  # wakes a loop waiting for work
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
            self._task = None
