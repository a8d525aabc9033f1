"""Wiring of the movie service."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from boxoffice.core.app import ServiceContext, ServiceDefinition
from boxoffice.core.events import events_wiring
from boxoffice.movie.consumers import handlers
from boxoffice.movie.demo import load_demo_data_if_enabled
from boxoffice.movie.routes import router
from boxoffice.movie.seatmap import maps_of


def _unicode_lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _register_unicode_lower(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.create_function("lower", 1, _unicode_lower, deterministic=True)


async def unicode_case_folding(ctx: ServiceContext) -> None:
    """SQLite's lower() folds only ASCII; searching "đà lạt" must find "Đà Lạt" as PostgreSQL
    does, so SQLite connections get Python's lower() (before any connection is made)."""
    if ctx.db.is_sqlite:
        event.listen(ctx.db.engine.sync_engine, "connect", _register_unicode_lower)


events = events_wiring(handlers)


async def stop_seat_map_watches(ctx: ServiceContext) -> None:
    maps_of(ctx).close()


SERVICE = ServiceDefinition(
    name="movie",
    package="boxoffice.movie",
    title="movie service",
    description="Movies, theaters and their seats, showtimes and live seat maps.",
    routers=[router],
    startup=[unicode_case_folding, *events.startup, load_demo_data_if_enabled],
    background=[*events.background],
    shutdown=[stop_seat_map_watches, *events.shutdown],
)
