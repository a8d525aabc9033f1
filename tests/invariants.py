"""The money invariants of the booking ⇄ payment saga, read straight from both databases.

Used at the end of the payment tests (and by the load tests) once the saga has settled. The
rules themselves are `boxoffice.invariants.money` (what `boxoffice check` runs), here with no
grace: a test checks after it has waited for its story to settle. On top of them:
- the money taken (completed payments) equals the value of confirmed, paid bookings;
- optionally, what the card gateway holds equals the completed payments (no money lost there).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

from boxoffice.core.db import utcnow
from boxoffice.invariants import ServiceDatabases, Window
from boxoffice.invariants.money import (
    money_totals,
    money_violations,
    read_bookings,
    read_payments,
)


@dataclass
class MoneyReport:
    """What the check saw, for assertions beyond the invariants themselves."""

    completed_total: Decimal = Decimal("0.00")
    confirmed_paid_total: Decimal = Decimal("0.00")
    payments_by_status: Counter[str] = field(default_factory=Counter)
    bookings_by_state: Counter[str] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)


async def money_report(
    payments_db_url: str, bookings_db_url: str, *, gateway_money_held: Decimal | None = None
) -> MoneyReport:
    """Read both databases and list every broken invariant (without raising)."""
    async with ServiceDatabases({"payment": payments_db_url, "booking": bookings_db_url}) as db:
        payments = await read_payments(db)
        bookings = await read_bookings(db)
    totals = money_totals(bookings, payments)
    report = MoneyReport(
        completed_total=totals.completed_payments,
        confirmed_paid_total=totals.confirmed_paid_bookings,
        payments_by_status=Counter(totals.payments_by_status),
        bookings_by_state=Counter(totals.bookings_by_state),
    )
    if report.completed_total != report.confirmed_paid_total:
        report.violations.append(
            f"completed payments total {report.completed_total} != confirmed paid bookings "
            f"total {report.confirmed_paid_total}"
        )
    report.violations += [
        f"{v.kind}: {v.detail}" for v in money_violations(bookings, payments, Window(utcnow(), 0))
    ]
    if gateway_money_held is not None and gateway_money_held != report.completed_total:
        report.violations.append(
            f"the gateway holds {gateway_money_held} but completed payments total "
            f"{report.completed_total}"
        )
    return report


async def check_money_invariants(
    payments_db_url: str, bookings_db_url: str, *, gateway_money_held: Decimal | None = None
) -> MoneyReport:
    """Assert every money invariant; the report is returned for further checks."""
    report = await money_report(
        payments_db_url, bookings_db_url, gateway_money_held=gateway_money_held
    )
    assert not report.violations, "money invariants broken:\n  " + "\n  ".join(report.violations)
    return report
