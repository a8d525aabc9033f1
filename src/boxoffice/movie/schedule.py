"""A theater's schedule: two screenings in one theater never overlap."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from boxoffice.movie.repository import Screening


def overlapping(start: dt.datetime, minutes: int, others: Iterable[Screening]) -> Screening | None:
    """The first screening that runs during [start, start + minutes), if any."""
    end = start + dt.timedelta(minutes=minutes)
    for other in others:
        other_start = dt.datetime.combine(other.show_date, other.show_time)
        other_end = other_start + dt.timedelta(minutes=other.duration_minutes)
        if other_start < end and start < other_end:
            return other
    return None
