"""`EventHandlers`: a service's table of event handlers, declared with `@handlers.on(name)`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.events.envelope import IncomingEvent, check_event_name

if TYPE_CHECKING:
    from boxoffice.core.app import ServiceContext

Handler = Callable[[IncomingEvent, AsyncSession, "ServiceContext"], Awaitable[Any]]
# A broadcast handler: every process of the service runs it, outside any transaction.
Listener = Callable[[IncomingEvent, "ServiceContext"], Awaitable[Any]]


class EventHandlers:
    """The events one service consumes; each handler runs in that service's transaction."""

    def __init__(self, service: str) -> None:
        self.service = service
        self._handlers: dict[str, Handler] = {}
        self._listeners: dict[str, Listener] = {}

    def on(self, name: str) -> Callable[[Handler], Handler]:
        """Register `async def handler(event, session, ctx)` for the event `name`."""
        check_event_name(name)

        def register(handler: Handler) -> Handler:
            if name in self._handlers:
                raise ValueError(f"{self.service} already handles {name!r}")
            self._handlers[name] = handler
            return handler

        return register

    def on_every_process(self, name: str) -> Callable[[Listener], Listener]:
        """Register `async def listener(event, ctx)`, run in every process of the service for
        each `name` event (`EventBus.broadcast`): for what a process keeps for itself, such as
        a cache. At most once and never retried, so it must not be the only copy of anything."""
        check_event_name(name)

        def register(listener: Listener) -> Listener:
            if name in self._listeners:
                raise ValueError(f"{self.service} already listens to {name!r}")
            self._listeners[name] = listener
            return listener

        return register

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._handlers))

    @property
    def broadcast_names(self) -> tuple[str, ...]:
        return tuple(sorted(self._listeners))

    def listener(self, name: str) -> Listener | None:
        return self._listeners.get(name)

    def get(self, name: str) -> Handler | None:
        return self._handlers.get(name)

    def __repr__(self) -> str:
        return f"EventHandlers({self.service!r}, {list(self.names)})"
