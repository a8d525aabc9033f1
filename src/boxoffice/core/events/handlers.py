"""`EventHandlers`: a service's table of event handlers, declared with `@handlers.on(name)`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.events.envelope import IncomingEvent, check_event_name

if TYPE_CHECKING:
    from boxoffice.core.app import ServiceContext

Handler = Callable[[IncomingEvent, AsyncSession, "ServiceContext"], Awaitable[Any]]


class EventHandlers:
    """The events one service consumes; each handler runs in that service's transaction."""

    def __init__(self, service: str) -> None:
        self.service = service
        self._handlers: dict[str, Handler] = {}

    def on(self, name: str) -> Callable[[Handler], Handler]:
        """Register `async def handler(event, session, ctx)` for the event `name`."""
        check_event_name(name)

        def register(handler: Handler) -> Handler:
            if name in self._handlers:
                raise ValueError(f"{self.service} already handles {name!r}")
            self._handlers[name] = handler
            return handler

        return register

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._handlers))

    def get(self, name: str) -> Handler | None:
        return self._handlers.get(name)

    def __repr__(self) -> str:
        return f"EventHandlers({self.service!r}, {list(self.names)})"
