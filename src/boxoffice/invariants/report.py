"""What the invariant checks find: violations of named kinds, and the report of one check."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

# Every kind of violation, with what it means; the report counts each (zero included).
KINDS: dict[str, str] = {
    "seat_sold_twice": "a seat of a showtime is in two live (pending or confirmed) bookings",
    "booking_payment_mismatch": (
        "a confirmed booking is not marked paid by exactly one completed payment of its total"
    ),
    "booking_charged_twice": "a booking has more than one charged payment",
    "payment_not_refunded": "a completed payment's booking is cancelled or expired, unrefunded",
    "payment_not_applied": "a completed payment's booking is missing or still pending",
    "refund_not_applied": "a refunded payment's booking is still confirmed",
    "confirmation_missing": "a paid booking has no confirmation notice for its customer",
    "outbox_stalled": "an event waits unpublished in a service's outbox",
    "dead_letter": "a consumer gave up on an event (it waits in a dead-letter queue)",
    "availability_mismatch": (
        "the movie service's free-seat count of a showtime disagrees with the seats booking sold"
    ),
}


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule: its kind, what a person reads, and the ids to look up."""

    kind: str
    detail: str
    ids: tuple[str, ...]
    # The service whose database or queue holds it; None when it lies between services.
    service: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown violation kind {self.kind!r}")

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "service": self.service, "detail": self.detail, "ids": self.ids}


def ids(*values: uuid.UUID | str | None) -> tuple[str, ...]:
    """The ids of a violation as strings, in order, without blanks."""
    return tuple(str(v) for v in values if v is not None)


class Window:
    """What counts as settled: a row last changed more than `grace` seconds before `now`.

    Younger changes may still have events in flight (a payment whose booking.confirmed is on
    its way), so a check skips them and counts them as `in_flight` instead of reporting them.
    A grace of 0 treats everything as settled (tests, and checks of a stopped system).
    """

    def __init__(self, now: dt.datetime, grace: float) -> None:
        self.now = now
        self.grace = max(grace, 0.0)
        self.cutoff = now - dt.timedelta(seconds=self.grace)
        self.in_flight = 0

    def settled(self, *moments: dt.datetime | None) -> bool:
        """True if every given moment is older than the grace; else counts one in flight."""
        if self.grace == 0 or all(m is None or m <= self.cutoff for m in moments):
            return True
        self.in_flight += 1
        return False


@dataclass
class MoneyTotals:
    """The money the payment and booking databases hold, for the report and the tests."""

    completed_payments: Decimal = Decimal("0.00")
    confirmed_paid_bookings: Decimal = Decimal("0.00")
    payments_by_status: dict[str, int] = field(default_factory=dict)
    bookings_by_state: dict[str, int] = field(default_factory=dict)


@dataclass
class CheckReport:
    """One pass of every check over every database and the event bus."""

    mode: str
    checked_at: dt.datetime
    grace_seconds: float
    violations: list[Violation] = field(default_factory=list)
    # Rows (or letters) read, by what they are.
    checked: dict[str, int] = field(default_factory=dict)
    in_flight: int = 0
    money: MoneyTotals = field(default_factory=MoneyTotals)
    # How many passes `--settle` made until this one.
    rounds: int = 1

    @property
    def ok(self) -> bool:
        return not self.violations

    def counts(self) -> dict[str, int]:
        """Violations by kind, every kind listed."""
        counts = dict.fromkeys(KINDS, 0)
        for violation in self.violations:
            counts[violation.kind] += 1
        return counts

    def add(self, violations: Iterable[Violation]) -> None:
        self.violations.extend(violations)

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked_at": self.checked_at.isoformat(),
            "mode": self.mode,
            "grace_seconds": self.grace_seconds,
            "rounds": self.rounds,
            "violations": [v.as_json() for v in self.violations],
            "counts": self.counts(),
            "checked": self.checked,
            "in_flight": self.in_flight,
            "money": {
                "completed_payments": str(self.money.completed_payments),
                "confirmed_paid_bookings": str(self.money.confirmed_paid_bookings),
            },
        }
