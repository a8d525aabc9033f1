"""The expiry sweeper: pending bookings past `expires_at` become expired and free their seats,
without anyone calling an endpoint (SPEC 4.4).

Safe with several replicas: each booking is expired by a guarded update in its own short
transaction, so when two sweepers pick the same booking only one changes it (and emits
`booking.expired`); the other finds nothing left to do.
"""

from __future__ import annotations

import asyncio

import structlog

from boxoffice.booking.repository import BookingRepository
from boxoffice.booking.service import BookingService
from boxoffice.booking.settings import BookingSettings
from boxoffice.core.app import ServiceContext
from boxoffice.core.db import utcnow

log = structlog.get_logger("boxoffice.booking.sweeper")

BATCH_SIZE = 100


def sweep_interval(settings: BookingSettings) -> float:
    """Sweep a few times per expiry window (so seats come back promptly), at most every 5 s."""
    return max(0.2, min(5.0, settings.booking_expiry_seconds / 4))


async def sweep_once(ctx: ServiceContext) -> int:
    """Expire every overdue pending booking; how many this call expired."""
    expired = 0
    while True:
        async with ctx.db.sessionmaker() as session:
            ids = await BookingRepository(session).overdue_ids(utcnow(), BATCH_SIZE)
        progressed = False
        for booking_id in ids:
            try:
                async with ctx.db.transaction() as session:
                    if await BookingService.from_context(ctx, session).expire(booking_id):
                        expired += 1
                progressed = True
            except Exception as exc:  # one bad booking must not hold up all the others
                log.error("expire_failed", booking_id=str(booking_id), error=repr(exc))
        # A full batch means more may be waiting; a batch that failed throughout would only
        # come back the same, so it waits for the next round.
        if len(ids) < BATCH_SIZE or not progressed:
            return expired


async def expiry_sweeper(ctx: ServiceContext) -> None:
    """Background loop (the app factory restarts it if it crashes).

    Stopping it lets a sweep in progress finish first: cut off mid-query, a database
    connection is torn down half-used (and aiosqlite's teardown can then hang the loop).
    """
    interval = sweep_interval(ctx.settings)
    while True:
        sweep = asyncio.ensure_future(_sweep_logged(ctx))
        try:
            await asyncio.shield(sweep)
        except asyncio.CancelledError:
            await sweep
            raise
        await asyncio.sleep(interval)


async def _sweep_logged(ctx: ServiceContext) -> None:
    try:
        count = await sweep_once(ctx)
        if count:
            log.info("bookings_expired", count=count)
    except Exception as exc:  # the database may be briefly away: try again next round
        log.warning("sweep_failed", error=repr(exc))
