"""One way to write money, days and times on every page (Jinja filters, registered in pages.py).

Amounts are the design's VND: `120,000 ₫`. Days read as people say them: `Fri 4 Dec 2026`.
Clock times are 24-hour `19:30`. An instant (an ISO time from the API, in UTC) is shown in the
theater's own time zone, since that is the clock the customer will walk in by.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from boxoffice.core.localtime import is_time_zone, zone


def money(amount: Any) -> str:
    """120000 → '120,000 ₫'; anything that is not a number is shown as it came."""
    try:
        return f"{float(amount):,.0f} ₫"
    except (TypeError, ValueError):
        return str(amount)


def _as_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def day(value: Any) -> str:
    """'2026-12-04' → 'Fri 4 Dec 2026'."""
    date = _as_date(value)
    return f"{date:%a} {date.day} {date:%b %Y}" if date else str(value or "")


def clock(value: Any) -> str:
    """'19:30:00' (or a time) → '19:30'."""
    if isinstance(value, dt.time | dt.datetime):
        return f"{value:%H:%M}"
    return str(value or "")[:5]


def instant(value: Any) -> dt.datetime | None:
    """An ISO time from the API (UTC, maybe with 'Z') as an aware datetime; None if it is not."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def local_time(value: Any, time_zone: str | None = None) -> str:
    """An instant as the wall clock of `time_zone` shows it: '19:30, Fri 4 Dec 2026'.
    Without a known zone it is written in UTC and says so."""
    moment = instant(value)
    if moment is None:
        return str(value or "")
    if time_zone and is_time_zone(time_zone):
        local = moment.astimezone(zone(time_zone))
        return f"{clock(local)}, {day(local)}"
    return f"{clock(moment.astimezone(dt.UTC))} UTC, {day(moment)}"


FILTERS = {
    "money": money,
    "day": day,
    "clock": clock,
    "local_time": local_time,
}
