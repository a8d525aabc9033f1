"""Fan-out of board changes to the listeners of one process (e.g. a thousand open seat maps).

Each listener has a bounded queue; one that falls behind gets a `reset` instead of an endless
backlog, and starts again from a snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Self

from boxoffice.seatboard.types import Change

QUEUE_SIZE = 256


class Subscription:
    """One listener's changes, in order: iterate, or `get` with a timeout (for heartbeats)."""

    def __init__(self, queue: asyncio.Queue[Change]) -> None:
        self._queue = queue

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Change:
        return await self._queue.get()

    async def get(self, timeout: float) -> Change | None:
        """The next change, or None when none came within `timeout` seconds."""
        try:  # not wait_for: see boxoffice.core.waits
            async with asyncio.timeout(timeout):
                return await self._queue.get()
        except TimeoutError:
            return None


class FeedHub:
    """Listeners by showtime; `publish` hands a change to every listener of its showtime."""

    def __init__(
        self,
        subscribe: Callable[[str], Awaitable[None]] | None = None,
        unsubscribe: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        # `subscribe` is awaited by every new listener and returns once changes of that
        # showtime reach this hub (at once when they already do); `unsubscribe` after the last.
        self._listeners: dict[str, set[asyncio.Queue[Change]]] = {}
        self._subscribe = subscribe
        self._unsubscribe = unsubscribe

    @property
    def showtimes(self) -> list[str]:
        return list(self._listeners)

    def listener_count(self, showtime_id: str) -> int:
        return len(self._listeners.get(showtime_id, ()))

    def publish(self, showtime_id: str, change: Change) -> None:
        for queue in self._listeners.get(showtime_id, ()):
            try:
                queue.put_nowait(change)
            except asyncio.QueueFull:
                # Too far behind to catch up change by change: start again from a snapshot.
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(Change(version=change.version, states={}, reset=True))

    def reset_all(self) -> None:
        """Every listener may have missed changes (the feed was interrupted)."""
        for showtime_id in self.showtimes:
            self.publish(showtime_id, Change(version=0, states={}, reset=True))

    @contextlib.asynccontextmanager
    async def listen(self, showtime_id: str) -> AsyncIterator[Subscription]:
        queue: asyncio.Queue[Change] = asyncio.Queue(QUEUE_SIZE)
        listeners = self._listeners.setdefault(showtime_id, set())
        listeners.add(queue)
        try:
            if self._subscribe is not None:
                await self._subscribe(showtime_id)
            yield Subscription(queue)
        finally:
            listeners.discard(queue)
            if not listeners:
                self._listeners.pop(showtime_id, None)
                if self._unsubscribe is not None:
                    with contextlib.suppress(Exception):
                        await self._unsubscribe(showtime_id)
