"""The money rules of the booking ⇄ payment saga (SPEC 4.5, 4.6), from both databases.

Once the saga has settled:
- a confirmed booking is marked paid by exactly one completed payment of its total;
- no booking is charged twice (a unique index forbids it; this would find it lost);
- a completed payment's booking is confirmed: not cancelled or expired (that money is owed
  back), not pending or missing (nobody got the seats it paid for);
- a refunded payment's booking is not confirmed.
Together these make the money taken equal the value of the confirmed, paid bookings.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa

from boxoffice.booking.models import CANCELLED, CONFIRMED, EXPIRED, PAID, PENDING
from boxoffice.core.db import Money, UTCDateTime
from boxoffice.invariants.reading import ServiceDatabases
from boxoffice.invariants.report import MoneyTotals, Violation, Window, ids
from boxoffice.payment.models import CHARGED_STATUSES

COMPLETED = "completed"
REFUNDED = "refunded"


@dataclass(frozen=True, slots=True)
class BookingFacts:
    """What the checks need of a booking."""

    id: uuid.UUID
    showtime_id: uuid.UUID
    total_seats: int
    total_price: Decimal
    status: str
    payment_status: str
    expires_at: dt.datetime
    confirmed_at: dt.datetime | None
    updated_at: dt.datetime

    def effective_status(self, now: dt.datetime) -> str:
        """As the booking service reads it: pending past its expiry is already expired."""
        return EXPIRED if self.status == PENDING and self.expires_at <= now else self.status


@dataclass(frozen=True, slots=True)
class PaymentFacts:
    """What the checks need of a payment."""

    id: uuid.UUID
    booking_id: uuid.UUID
    amount: Decimal
    status: str
    updated_at: dt.datetime


async def read_bookings(db: ServiceDatabases) -> list[BookingFacts]:
    rows = await db.rows(
        "booking",
        "SELECT id, showtime_id, total_seats, total_price, status, payment_status, expires_at, "
        "confirmed_at, updated_at FROM bookings",
        {
            "id": sa.Uuid(),
            "showtime_id": sa.Uuid(),
            "total_price": Money(),
            "expires_at": UTCDateTime(),
            "confirmed_at": UTCDateTime(),
            "updated_at": UTCDateTime(),
        },
    )
    return [BookingFacts(**row._asdict()) for row in rows]


async def read_payments(db: ServiceDatabases) -> list[PaymentFacts]:
    rows = await db.rows(
        "payment",
        "SELECT id, booking_id, amount, status, updated_at FROM payments",
        {"id": sa.Uuid(), "booking_id": sa.Uuid(), "amount": Money(), "updated_at": UTCDateTime()},
    )
    return [PaymentFacts(**row._asdict()) for row in rows]


def money_totals(bookings: Iterable[BookingFacts], payments: Iterable[PaymentFacts]) -> MoneyTotals:
    """The money taken and the value sold, and how payments and bookings stand."""
    totals = MoneyTotals()
    by_status: Counter[str] = Counter()
    by_state: Counter[str] = Counter()
    for p in payments:
        by_status[p.status] += 1
        if p.status == COMPLETED:
            totals.completed_payments += p.amount
    for b in bookings:
        by_state[f"{b.status}/{b.payment_status}"] += 1
        if b.status == CONFIRMED and b.payment_status == PAID:
            totals.confirmed_paid_bookings += b.total_price
    totals.payments_by_status = dict(by_status)
    totals.bookings_by_state = dict(by_state)
    return totals


def _amounts(payments: Iterable[PaymentFacts]) -> str:
    return "[" + ", ".join(f"{p.id} {p.status} {p.amount}" for p in payments) + "]"


def money_violations(
    bookings: Sequence[BookingFacts], payments: Sequence[PaymentFacts], window: Window
) -> list[Violation]:
    """Every settled break of the money rules (see the module's docstring)."""
    found: list[Violation] = []
    of_booking: defaultdict[uuid.UUID, list[PaymentFacts]] = defaultdict(list)
    for p in payments:
        of_booking[p.booking_id].append(p)
    booking_by_id = {b.id: b for b in bookings}

    # Never legitimate, even for an instant: no grace.
    for booking_id, attempts in of_booking.items():
        charged = [p for p in attempts if p.status in CHARGED_STATUSES]
        if len(charged) > 1:
            found.append(
                Violation(
                    "booking_charged_twice",
                    f"booking {booking_id} charged {len(charged)} times: {_amounts(charged)}",
                    ids(booking_id, *(p.id for p in charged)),
                    "payment",
                )
            )

    for b in bookings:
        if b.status != CONFIRMED:
            continue
        attempts = of_booking.get(b.id, [])
        completed = [p for p in attempts if p.status == COMPLETED]
        if b.payment_status == PAID and len(completed) == 1:
            if completed[0].amount == b.total_price:
                continue
        # A refund under way leaves the booking confirmed until payment.refunded lands.
        if not window.settled(b.updated_at, *(p.updated_at for p in attempts)):
            continue
        found.append(
            Violation(
                "booking_payment_mismatch",
                f"confirmed booking {b.id} ({b.payment_status}, total {b.total_price}) has "
                f"{len(completed)} completed payments: {_amounts(attempts)}",
                ids(b.id, *(p.id for p in completed)),
            )
        )

    for p in payments:
        booking = booking_by_id.get(p.booking_id)
        moments: list[dt.datetime | None] = [p.updated_at]
        if booking is not None:
            moments.append(booking.updated_at)
        if p.status == COMPLETED:
            state = booking.effective_status(window.now) if booking is not None else None
            if state == CONFIRMED:
                continue  # the booking's side is checked above
            if state in (CANCELLED, EXPIRED):
                kind = "payment_not_refunded"
                if booking is not None and booking.status == PENDING:
                    moments.append(booking.expires_at)  # expired by the clock just now?
            else:
                kind = "payment_not_applied"
        elif p.status == REFUNDED and booking is not None and booking.status == CONFIRMED:
            kind, state = "refund_not_applied", CONFIRMED
        else:
            continue
        if not window.settled(*moments):
            continue
        where = f"booking {p.booking_id} is {state}" if state else f"booking {p.booking_id} missing"
        detail = f"{p.status} payment {p.id} of {p.amount}: {where}"
        found.append(Violation(kind, detail, ids(p.id, p.booking_id)))
    return found
