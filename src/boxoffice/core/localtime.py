"""Wall-clock times of a place as instants: show times are written in their theater's zone.

A showtime's `show_date` + `show_time` is what the theater's clock says when it starts; the
instant it starts is that, read in the theater's IANA time zone. Every "has it started?" is a
comparison of that instant with now (UTC), in whatever zone the server runs.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from functools import lru_cache

# Files some systems keep beside the zones, whose meaning depends on the machine.
_NOT_ZONES = frozenset({"localtime", "posixrules"})


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    # Read once: it lists the zone database's files (about 600 names).
    return frozenset(zoneinfo.available_timezones()) - _NOT_ZONES


def is_time_zone(name: str) -> bool:
    """Whether `name` is an IANA time zone this system knows (e.g. `Asia/Ho_Chi_Minh`).

    Only names the zone database lists count (exactly as spelled): `ZoneInfo` alone would
    also open any file under the zone directories.
    """
    return name in _known_zones()


def check_time_zone(name: str) -> str:
    """`name` when it is a known IANA time zone; a ValueError that says so otherwise."""
    if not is_time_zone(name):
        raise ValueError(
            f"unknown time zone {name!r}: use an IANA name such as 'Asia/Ho_Chi_Minh' or 'UTC'"
        )
    return name


@lru_cache(maxsize=64)
def zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def starts_at(day: dt.date, clock: dt.time, time_zone: str) -> dt.datetime:
    """The UTC instant at which the wall clock of `time_zone` shows `day` `clock`.

    A time skipped by a daylight-saving change is read with the offset before the change
    (PEP 495's fold=0), as the clocks of the place would have it an hour later.
    """
    local = dt.datetime.combine(day, clock.replace(tzinfo=None))
    return local.replace(tzinfo=zone(time_zone)).astimezone(dt.UTC)


def local_now(time_zone: str) -> dt.datetime:
    """Now, as the wall clock of `time_zone` shows it (naive)."""
    return dt.datetime.now(zone(time_zone)).replace(tzinfo=None)
