"""`events_wiring`: the startup hook, background loops and shutdown hook a service needs for
its events (relay always; consumer when it handles any), in one call."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from boxoffice.core.events.bus import (
    RECONNECT_MAX_SECONDS,
    BusClosed,
    EventBus,
    describe_error,
)
from boxoffice.core.events.consumer import EventProcessor
from boxoffice.core.events.envelope import Event
from boxoffice.core.events.handlers import EventHandlers
from boxoffice.core.events.outbox import register_service_engine, unregister_service_engine
from boxoffice.core.events.relay import Relay
from boxoffice.core.health import Check

if TYPE_CHECKING:
    from boxoffice.core.app import Hook, ServiceContext

log = structlog.get_logger("boxoffice.events")

DECLARE_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class EventWiring(Mapping[str, Sequence["Hook"]]):
    """Hooks for `ServiceDefinition`: splat it (`**wiring`) or pick `.startup`/`.background`."""

    startup: Sequence[Hook]
    background: Sequence[Hook]
    shutdown: Sequence[Hook]

    def __getitem__(self, key: str) -> Sequence[Hook]:
        if key not in ("startup", "background", "shutdown"):
            raise KeyError(key)
        return getattr(self, key)  # type: ignore[no-any-return]

    def __iter__(self) -> Iterator[str]:
        return iter(("startup", "background", "shutdown"))

    def __len__(self) -> int:
        return 3


def bus_of(ctx: ServiceContext) -> EventBus:
    bus: EventBus | None = getattr(ctx.runtime, "bus", None)
    if bus is None:
        raise RuntimeError("this runtime has no event bus (build it with build_runtime)")
    return bus


def make_relay(ctx: ServiceContext) -> Relay:
    s = ctx.settings
    return Relay(
        ctx.name,
        ctx.db,
        bus_of(ctx),
        batch_size=s.event_relay_batch,
        poll_seconds=s.event_relay_poll_seconds,
        retention=dt.timedelta(hours=s.event_retention_hours),
    )


def make_processor(handlers: EventHandlers, ctx: ServiceContext) -> EventProcessor:
    s = ctx.settings
    return EventProcessor(
        handlers,
        ctx,
        max_attempts=s.event_max_attempts,
        retry_base=s.event_retry_base_seconds,
        retry_max=s.event_retry_max_seconds,
    )


def events_wiring(handlers: EventHandlers | str) -> EventWiring:
    """Give a service its outbox relay, and a consumer for the events it handles.

    Pass the service's `EventHandlers`, or just its name when it only produces events.
    """
    if isinstance(handlers, str):
        handlers = EventHandlers(handlers)
    table = handlers

    async def start_events(ctx: ServiceContext) -> None:
        if ctx.name != table.service:
            raise RuntimeError(f"handlers of {table.service!r} wired into service {ctx.name!r}")
        register_service_engine(ctx.db.engine.sync_engine, ctx.name)
        bus: EventBus | None = getattr(ctx.runtime, "bus", None)
        if bus is not None:
            # Not required: with the broker down the outbox keeps the events (SPEC 4.7).
            ctx.checks["broker"] = Check("broker", bus.ping, required=False)
        if not table.names:
            return
        # Declared before requests are served, so no event of this run misses the queue. A
        # broker that is down must not stop the service: the consumer declares it again.
        try:
            await asyncio.wait_for(
                bus_of(ctx).declare(ctx.name, table.names), DECLARE_TIMEOUT_SECONDS
            )
        except Exception as exc:
            log.warning("event_topology_deferred", service=ctx.name, error=describe_error(exc))

    async def event_relay(ctx: ServiceContext) -> None:
        await make_relay(ctx).run()

    async def event_consumer(ctx: ServiceContext) -> None:
        if not table.names:
            return
        processor = make_processor(table, ctx)
        bus = bus_of(ctx)
        delay = 0.5
        while True:
            started = time.monotonic()
            try:
                await bus.consume(ctx.name, table.names, processor.handle)
                log.warning("event_consumer_stopped", service=ctx.name)
            except asyncio.CancelledError:
                raise
            except BusClosed:
                return
            except Exception as exc:
                if bus.closed:
                    return
                log.warning(
                    "event_consumer_failed",
                    service=ctx.name,
                    error=describe_error(exc),
                    retry_in=delay,
                )
            if time.monotonic() - started > 60:
                delay = 0.5
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_SECONDS)

    async def event_broadcasts(ctx: ServiceContext) -> None:
        if not table.broadcast_names:
            return
        bus = bus_of(ctx)

        async def notice(event: Event) -> None:
            listener = table.listener(event.name)
            if listener is not None:
                await listener(event, ctx)

        delay = 0.5
        while True:
            try:
                await bus.broadcast(table.broadcast_names, notice)
            except asyncio.CancelledError:
                raise
            except BusClosed:
                return
            except Exception as exc:
                if bus.closed:
                    return
                log.warning(
                    "event_broadcast_failed",
                    service=ctx.name,
                    error=describe_error(exc),
                    retry_in=delay,
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_SECONDS)

    async def stop_events(ctx: ServiceContext) -> None:
        unregister_service_engine(ctx.db.engine.sync_engine)

    return EventWiring(
        startup=(start_events,),
        background=(event_relay, event_consumer, event_broadcasts),
        shutdown=(stop_events,),
    )
