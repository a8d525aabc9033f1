"""The admin's sales reports: what one showtime sold, and sales day by day.

Sold means paid: a booking counts once its payment confirmed it (status confirmed, payment
paid), with its seats at the prices it was booked at; a refund or cancellation takes it out
again. Days are the cinema's days: the THEATER_TIMEZONE setting's calendar, by the time each
payment was confirmed. BookingService reads the numbers (BookingRepository); this module adds
them up.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from decimal import Decimal

from boxoffice.booking.errors import SalesRangeInvalid
from boxoffice.booking.repository import PaidBooking, SeatTypeSales
from boxoffice.booking.schemas import DailySalesOut, SeatTypeSalesOut, ShowtimeSalesOut
from boxoffice.core.localtime import starts_at, zone

# A year and a day: a leap year's report fits, a decade's does not (one row per day).
MAX_DAYS = 366
# The days a report may name: a box office has no sales outside them, and a day at the ends of
# Python's calendar (year 1, year 9999) has no midnight in every time zone.
EARLIEST_DAY = dt.date(2000, 1, 1)
LATEST_DAY = dt.date(2999, 12, 31)


def showtime_report(
    showtime_id: uuid.UUID, capacity: int | None, by_type: list[SeatTypeSales], held: int
) -> ShowtimeSalesOut:
    """Sold and held seats, occupancy and revenue by seat type of one showtime."""
    sold = sum(t.seats for t in by_type)
    return ShowtimeSalesOut(
        showtime_id=showtime_id,
        capacity=capacity,
        sold=sold,
        held=held,
        occupancy=round(sold / capacity, 4) if capacity else None,
        revenue_by_seat_type=[
            SeatTypeSalesOut(seat_type=t.seat_type, seats=t.seats, revenue=t.revenue)
            for t in by_type
        ],
        revenue_total=sum((t.revenue for t in by_type), Decimal("0.00")),
    )


def check_range(first: dt.date, last: dt.date) -> int:
    """The number of days from `first` to `last`, both included; SalesRangeInvalid (400)
    when `last` comes first, the range is longer than MAX_DAYS or leaves the years 2000-2999."""
    for day in (first, last):
        if not EARLIEST_DAY <= day <= LATEST_DAY:
            raise SalesRangeInvalid(
                f"{day} is outside the years {EARLIEST_DAY.year}-{LATEST_DAY.year}"
            )
    days = (last - first).days + 1
    if days < 1:
        raise SalesRangeInvalid(f"The range ends ({last}) before it starts ({first})")
    if days > MAX_DAYS:
        raise SalesRangeInvalid(f"The range spans {days} days; at most {MAX_DAYS} are allowed")
    return days


def span(first: dt.date, last: dt.date, cinema: str) -> tuple[dt.datetime, dt.datetime]:
    """[start, end): from `first`'s midnight to the midnight after `last`, in the zone."""
    midnight = dt.time(0, 0)
    after_last = last + dt.timedelta(days=1)
    return starts_at(first, midnight, cinema), starts_at(after_last, midnight, cinema)


def daily_report(
    first: dt.date, days: int, paid: Iterable[PaidBooking], cinema: str
) -> list[DailySalesOut]:
    """One row per day from `first` on (`days` of them, days without sales as zeros)."""
    totals = {
        first + dt.timedelta(days=n): DailySalesOut(
            date=first + dt.timedelta(days=n), bookings=0, seats=0, revenue=Decimal("0.00")
        )
        for n in range(days)
    }
    for booking in paid:
        row = totals.get(local_day_of(booking.confirmed_at, cinema))
        if row is not None:
            row.bookings += 1
            row.seats += booking.seats
            row.revenue += booking.revenue
    return list(totals.values())


def local_day_of(moment: dt.datetime, time_zone: str) -> dt.date:
    """The calendar day an instant falls on in the zone."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return aware.astimezone(zone(time_zone)).date()
