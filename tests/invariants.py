"""The money invariants of the booking ⇄ payment saga, read straight from both databases.

Used at the end of the payment tests (and by the load tests) once the saga has settled:
- the money taken (completed payments) equals the value of confirmed, paid bookings;
- no booking is charged twice, and every confirmed, paid booking has exactly one completed
  payment of its total;
- a refunded payment's booking is not confirmed;
- optionally, what the card gateway holds equals the completed payments (no money lost there).
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

CHARGED = ("pending", "completed", "refunding", "refunded")


@dataclass
class MoneyReport:
    """What the check saw, for assertions beyond the invariants themselves."""

    completed_total: Decimal = Decimal("0.00")
    confirmed_paid_total: Decimal = Decimal("0.00")
    payments_by_status: Counter[str] = field(default_factory=Counter)
    bookings_by_state: Counter[str] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)


async def _rows(url: str, sql: str) -> list[Any]:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(text(sql))).all())
    finally:
        await engine.dispose()


def _uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _money(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


async def money_report(
    payments_db_url: str, bookings_db_url: str, *, gateway_money_held: Decimal | None = None
) -> MoneyReport:
    """Read both databases and list every broken invariant (without raising)."""
    payments = await _rows(payments_db_url, "SELECT id, booking_id, amount, status FROM payments")
    bookings = await _rows(
        bookings_db_url, "SELECT id, total_price, status, payment_status FROM bookings"
    )
    report = MoneyReport()
    booking_by_id = {_uuid(b.id): b for b in bookings}
    charged: defaultdict[uuid.UUID, list[Any]] = defaultdict(list)
    for p in payments:
        report.payments_by_status[p.status] += 1
        if p.status in CHARGED:
            charged[_uuid(p.booking_id)].append(p)
        if p.status == "completed":
            report.completed_total += _money(p.amount)
    for b in bookings:
        report.bookings_by_state[f"{b.status}/{b.payment_status}"] += 1
        if b.status == "confirmed" and b.payment_status == "paid":
            report.confirmed_paid_total += _money(b.total_price)

    if report.completed_total != report.confirmed_paid_total:
        report.violations.append(
            f"completed payments total {report.completed_total} != confirmed paid bookings "
            f"total {report.confirmed_paid_total}"
        )
    for booking_id, attempts in charged.items():
        if len(attempts) > 1:
            report.violations.append(
                f"booking {booking_id} charged {len(attempts)} times: "
                + ", ".join(f"{p.id} ({p.status})" for p in attempts)
            )
    for p in payments:
        booking = booking_by_id.get(_uuid(p.booking_id))
        confirmed = booking is not None and booking.status == "confirmed"
        if p.status == "refunded" and confirmed:
            report.violations.append(
                f"refunded payment {p.id} but booking {p.booking_id} confirmed"
            )
        if p.status == "completed" and not (confirmed and booking.payment_status == "paid"):
            state = f"{booking.status}/{booking.payment_status}" if booking else "missing"
            report.violations.append(f"completed payment {p.id} but booking {state}")
    for b in bookings:
        if b.status == "confirmed" and b.payment_status == "paid":
            completed = [p for p in charged.get(_uuid(b.id), []) if p.status == "completed"]
            if len(completed) != 1 or _money(completed[0].amount) != _money(b.total_price):
                report.violations.append(
                    f"confirmed paid booking {b.id} ({_money(b.total_price)}) has completed "
                    f"payments {[str(_money(p.amount)) for p in completed]}"
                )
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
