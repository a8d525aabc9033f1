"""One pass of every invariant check over the five databases and the event bus, and the
`--settle` loop that repeats it while events are still finding their way."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from boxoffice.core.db import utcnow
from boxoffice.core.events import DeadLetter
from boxoffice.core.runtime import event_bus
from boxoffice.invariants.messaging import (
    OUTBOX,
    dead_letter_violations,
    missing_confirmations,
    read_confirmed_notices,
    stalled_outbox,
)
from boxoffice.invariants.money import money_totals, money_violations, read_bookings, read_payments
from boxoffice.invariants.reading import ServiceDatabases, SourceUnreadable
from boxoffice.invariants.report import CheckReport, Violation, Window
from boxoffice.invariants.seats import (
    availability_mismatches,
    read_capacities,
    read_ledger,
    read_live_seats,
    seats_sold_twice,
)
from boxoffice.settings import Settings
from boxoffice.topology import SERVICE_NAMES

# Long enough for a busy system's events (a payment, the booking's confirmation, the notice),
# short enough that a stuck relay or a lost event shows within a minute.
DEFAULT_GRACE_SECONDS = 30.0
# Dead letters read from the bus at most (the count says "at least" beyond it).
DEAD_LETTER_LIMIT = 500


def database_urls(settings: Settings, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """Each service's database in the settings' mode, unless given in `overrides`."""
    urls = {service: settings.database_url_for(service) for service in SERVICE_NAMES}
    urls.update(overrides or {})
    return urls


async def read_dead_letters(settings: Settings, limit: int = DEAD_LETTER_LIMIT) -> list[DeadLetter]:
    """Every service's dead letters, from RabbitMQ or the embedded broker's file."""
    bus = event_bus(settings, consumers=SERVICE_NAMES)
    where = "RabbitMQ" if settings.distributed else "the embedded event broker"
    try:
        return await bus.dead_letters(None, limit=limit)
    except Exception as exc:  # whatever the broker's client raises, the bus cannot be read
        raise SourceUnreadable("event bus", where, str(exc) or type(exc).__name__) from exc
    finally:
        await bus.aclose()


async def _outboxes(db: ServiceDatabases, window: Window) -> list[Violation]:
    found: list[Violation] = []
    for service in SERVICE_NAMES:
        if await db.has_table(service, OUTBOX):  # auth produces no events
            found += await stalled_outbox(db, service, window)
    return found


async def check_system(
    settings: Settings,
    *,
    grace: float = DEFAULT_GRACE_SECONDS,
    urls: Mapping[str, str] | None = None,
) -> CheckReport:
    """Read everything once and report every settled violation (raises SourceUnreadable)."""
    window = Window(utcnow(), grace)
    report = CheckReport(mode=settings.mode, checked_at=window.now, grace_seconds=window.grace)
    async with ServiceDatabases(database_urls(settings, urls)) as db:
        results: list[Any] = await asyncio.gather(
            db.rows("auth", "SELECT count(*) AS n FROM users"),
            read_bookings(db),
            read_live_seats(db),
            read_payments(db),
            read_ledger(db),
            read_capacities(db),
            read_confirmed_notices(db),
            read_dead_letters(settings),
            return_exceptions=True,  # every read ends before the engines close
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result
        users, bookings, seats, payments, ledger, capacities, notified, letters = results
        report.add(seats_sold_twice(seats))
        report.add(money_violations(bookings, payments, window))
        report.add(missing_confirmations(bookings, notified, window))
        report.add(availability_mismatches(capacities, ledger, bookings, seats, window))
        report.add(await _outboxes(db, window))
        report.add(dead_letter_violations(letters))
    report.money = money_totals(bookings, payments)
    report.in_flight = window.in_flight
    report.checked = {
        "users": users[0].n,
        "bookings": len(bookings),
        "live_seats": len(seats),
        "payments": len(payments),
        "showtimes": len(capacities),
        "ledger_entries": len(ledger),
        "confirmation_notices": len(notified),
        "dead_letters": len(letters),
    }
    return report


async def check_until_settled(
    settings: Settings,
    *,
    settle: float,
    grace: float = DEFAULT_GRACE_SECONDS,
    urls: Mapping[str, str] | None = None,
    interval: float = 1.0,
) -> CheckReport:
    """Check again every `interval` until clean or `settle` seconds are up; the last report.

    Right after a load, what is still in flight is not broken yet: this waits for it.
    """
    deadline = time.monotonic() + settle
    rounds = 0
    while True:
        rounds += 1
        report = await check_system(settings, grace=grace, urls=urls)
        report.rounds = rounds
        left = deadline - time.monotonic()
        if report.ok or left <= 0:
            return report
        await asyncio.sleep(min(interval, left))
