"""The live seat map: a server-sent-events stream of a showtime's seat changes.

A listener first gets a `snapshot` (every seat that is not free), then a `change` per change of
the board, each with its version as the event id, so a browser's EventSource that reconnects
with `Last-Event-ID` resumes with only what it missed. An idle stream sends a comment every
`HEARTBEAT_SECONDS` so proxies keep it open. One process serves thousands of idle listeners: a
change is rendered once for everyone, and again only for a listener whose own hold it touches.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import AsyncIterator

import structlog
from prometheus_client import Gauge

from boxoffice.booking.service import BookingService
from boxoffice.core.app import ServiceContext
from boxoffice.core.auth import Principal
from boxoffice.seatboard import Change, now_ms, public_status, seat_board

log = structlog.get_logger("boxoffice.booking.live")

HEARTBEAT_SECONDS = 15.0
# How soon a browser reconnects after the stream ends (ms).
RETRY_MS = 2000

LISTENERS = Gauge("seat_feed_listeners", "Open live seat-map streams", ["service"])


def _event(kind: str, version: int, seats: dict[str, str]) -> bytes:
    data = json.dumps({"version": version, "seats": seats}, separators=(",", ":"))
    return f"id: {version}\nevent: {kind}\ndata: {data}\n\n".encode()


@functools.lru_cache(maxsize=4096)
def _public_change(change: Change) -> bytes:
    at = now_ms()
    return _event(
        "change", change.version, {s: public_status(v, None, at) for s, v in change.states.items()}
    )


def _change_for(change: Change, me: str | None) -> bytes:
    if me is not None and any(state.endswith(":" + me) for state in change.states.values()):
        at = now_ms()
        seats = {s: public_status(v, me, at) for s, v in change.states.items()}
        return _event("change", change.version, seats)
    return _public_change(change)


async def _start(
    ctx: ServiceContext, showtime_id: uuid.UUID, user: Principal | None, since: int | None
) -> tuple[int, bytes]:
    """The first event: what changed since the listener's last version, else a snapshot."""
    async with ctx.db.sessionmaker() as session:
        service = BookingService.from_context(ctx, session)
        version, full, seats = await service.seat_status(showtime_id, user, since)
    return version, _event("snapshot" if full else "change", version, dict(seats))


async def seat_events(
    ctx: ServiceContext, showtime_id: uuid.UUID, user: Principal | None, since: int | None
) -> AsyncIterator[bytes]:
    """The stream's bytes, until the client goes away."""
    me = str(user.user_id) if user else None
    LISTENERS.labels(ctx.name).inc()
    try:
        async for chunk in _events(ctx, showtime_id, user, since, me):
            yield chunk
    except Exception as exc:
        # The answer has started: all that is left is to end it; the browser reconnects.
        log.warning("seat_stream_ended", showtime_id=str(showtime_id), error=repr(exc))
    finally:
        LISTENERS.labels(ctx.name).dec()


async def _events(
    ctx: ServiceContext,
    showtime_id: uuid.UUID,
    user: Principal | None,
    since: int | None,
    me: str | None,
) -> AsyncIterator[bytes]:
    """Snapshot, then changes (a heartbeat when idle), re-snapshotting after a gap."""
    # Subscribed before the first read, so nothing between the two is missed.
    async with seat_board(ctx.runtime).listen(str(showtime_id)) as feed:
        version, first = await _start(ctx, showtime_id, user, since)
        yield f"retry: {RETRY_MS}\n".encode() + first
        while True:
            change = await feed.get(HEARTBEAT_SECONDS)
            if change is None:
                yield b": keep-alive\n\n"
            elif change.version <= version and not change.reset:
                continue  # already in what the listener has
            elif change.reset or change.version != version + 1:
                # Rebuilt, or changes were missed: start again from a snapshot.
                version, first = await _start(ctx, showtime_id, user, None)
                yield first
            else:
                version = change.version
                yield _change_for(change, me)
