"""The admin's sales reports: what one showtime sold, and sales day by day.

Sold means paid: a booking counts once its payment confirmed it (status confirmed, payment
paid), with its seats at the prices it was booked at; a refund or cancellation takes it out
again. Days are the cinema's days: the THEATER_TIMEZONE setting's calendar, by the time each
payment was confirmed.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.booking import repository as repo
from boxoffice.booking.errors import SalesRangeInvalid
from boxoffice.booking.schemas import DailySalesOut, SeatTypeSalesOut, ShowtimeSalesOut
from boxoffice.booking.seats import catalog_of
from boxoffice.core.app import ServiceContext
from boxoffice.core.db import utcnow
from boxoffice.core.localtime import starts_at, zone

# A year and a day: a leap year's report fits, a decade's does not (one row per day).
MAX_DAYS = 366
# The days a report may name: a box office has no sales outside them, and a day at the ends of
# Python's calendar (year 1, year 9999) has no midnight in every time zone.
EARLIEST_DAY = dt.date(2000, 1, 1)
LATEST_DAY = dt.date(2999, 12, 31)


async def showtime_sales(
    session: AsyncSession, ctx: ServiceContext, showtime_id: uuid.UUID
) -> ShowtimeSalesOut:
    """Sold and held seats, occupancy and revenue by seat type of one showtime; 404 when the
    catalog knows no such showtime."""
    showtime = await catalog_of(ctx).showtime(showtime_id)
    by_type = await repo.paid_seats_by_type(session, showtime_id)
    held = await repo.awaiting_payment_seats(session, showtime_id, utcnow())
    sold = sum(t.seats for t in by_type)
    capacity = showtime.total_seats
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


async def daily_sales(
    session: AsyncSession, ctx: ServiceContext, first: dt.date, last: dt.date
) -> list[DailySalesOut]:
    """One row per day from `first` to `last` (both included, days without sales as zeros)."""
    days = check_range(first, last)
    cinema = ctx.settings.theater_timezone
    midnight = dt.time(0, 0)
    start = starts_at(first, midnight, cinema)
    end = starts_at(last + dt.timedelta(days=1), midnight, cinema)
    totals = {
        first + dt.timedelta(days=n): DailySalesOut(
            date=first + dt.timedelta(days=n), bookings=0, seats=0, revenue=Decimal("0.00")
        )
        for n in range(days)
    }
    for paid in await repo.paid_bookings_between(session, start, end):
        row = totals.get(local_day_of(paid.confirmed_at, cinema))
        if row is not None:
            row.bookings += 1
            row.seats += paid.seats
            row.revenue += paid.revenue
    return list(totals.values())


def local_day_of(moment: dt.datetime, time_zone: str) -> dt.date:
    """The calendar day an instant falls on in the zone."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return aware.astimezone(zone(time_zone)).date()
