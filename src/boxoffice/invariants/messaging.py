"""The event rules (SPEC 4.6): every event leaves its outbox, no consumer has given up on one,
and the saga's last step happened: a paid booking's customer got its confirmation."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

import sqlalchemy as sa

from boxoffice.core.db import UTCDateTime
from boxoffice.core.events import DeadLetter
from boxoffice.core.events.tables import OutboxEvent
from boxoffice.invariants.money import BookingFacts
from boxoffice.invariants.reading import ServiceDatabases
from boxoffice.invariants.report import Violation, Window, ids

# The notice the notification service keeps for a paid booking: its type is the event's name
# (a `payment.completed` notice becomes this one when booking.confirmed arrives).
CONFIRMATION_NOTICE = "booking.confirmed"
OUTBOX = str(OutboxEvent.__tablename__)
# Ids listed per stalled outbox (the count says how many there are in all).
MAX_IDS = 50


async def read_confirmed_notices(db: ServiceDatabases) -> set[uuid.UUID]:
    """The bookings the notification service has a confirmation notice for."""
    rows = await db.rows(
        "notification",
        "SELECT DISTINCT booking_id FROM notifications "
        "WHERE type = :type AND booking_id IS NOT NULL",
        {"booking_id": sa.Uuid()},
        type=CONFIRMATION_NOTICE,
    )
    return {row.booking_id for row in rows}


def missing_confirmations(
    bookings: Iterable[BookingFacts], notified: set[uuid.UUID], window: Window
) -> list[Violation]:
    """Bookings that were paid (confirmed, even if cancelled since) without a confirmation."""
    return [
        Violation(
            "confirmation_missing",
            f"booking {b.id} was confirmed at {b.confirmed_at:%Y-%m-%d %H:%M:%S} UTC "
            f"(now {b.status}/{b.payment_status}) but its customer has no confirmation notice",
            ids(b.id),
            "notification",
        )
        for b in bookings
        if b.confirmed_at is not None and b.id not in notified and window.settled(b.confirmed_at)
    ]


async def stalled_outbox(db: ServiceDatabases, service: str, window: Window) -> list[Violation]:
    """A service's events unpublished for longer than the grace (one violation per service).

    Unpublished rows younger than that are the relay's normal work, and are counted in flight.
    """
    cutoff = sa.bindparam("cutoff", window.cutoff, type_=UTCDateTime())
    (counts,) = await db.rows(
        service,
        "SELECT count(*) AS unpublished, "
        "coalesce(sum(CASE WHEN occurred_at <= :cutoff THEN 1 ELSE 0 END), 0) AS stalled "
        f"FROM {OUTBOX} WHERE published_at IS NULL",
        cutoff=cutoff,
    )
    window.in_flight += counts.unpublished - counts.stalled
    if not counts.stalled:
        return []
    stalled = await db.rows(
        service,
        f"SELECT id, name, occurred_at FROM {OUTBOX} "
        "WHERE published_at IS NULL AND occurred_at <= :cutoff ORDER BY position LIMIT :n",
        {"id": sa.Uuid(), "occurred_at": UTCDateTime()},
        cutoff=cutoff,
        n=MAX_IDS,
    )
    oldest = stalled[0]
    age = (window.now - oldest.occurred_at).total_seconds()
    return [
        Violation(
            "outbox_stalled",
            f"{counts.stalled} {service} events unpublished for more than {window.grace:.0f} s; "
            f"the oldest, {oldest.name} {oldest.id}, for {age:.0f} s",
            ids(*(row.id for row in stalled)),
            service,
        )
    ]


def dead_letter_violations(letters: Sequence[DeadLetter]) -> list[Violation]:
    """Every dead letter: an event some service's consumer gave up on."""
    return [
        Violation(
            "dead_letter",
            f"{letter.service} gave up on {letter.name} {letter.event_id or '?'} from "
            f"{letter.source} after {letter.attempts} attempts: {letter.error}",
            ids(letter.event_id),
            letter.service,
        )
        for letter in letters
    ]
