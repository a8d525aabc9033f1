"""The rules the whole system must keep (SPEC 4), checked from the outside: every service's
database read with plain SQL, and the event bus's dead letters. `boxoffice check` runs them;
the tests use the money rules after their stories.

Each check is a pure function of rows read beforehand, so a check can be shown to fail on
data corrupted on purpose. Changes younger than the grace (`Window`) may still have events in
flight: they are counted as in flight, not reported.
"""

from boxoffice.invariants.checker import (
    DEFAULT_GRACE_SECONDS,
    check_system,
    check_until_settled,
    database_urls,
)
from boxoffice.invariants.reading import ServiceDatabases, SourceUnreadable
from boxoffice.invariants.report import KINDS, CheckReport, MoneyTotals, Violation, Window

__all__ = [
    "DEFAULT_GRACE_SECONDS",
    "KINDS",
    "CheckReport",
    "MoneyTotals",
    "ServiceDatabases",
    "SourceUnreadable",
    "Violation",
    "Window",
    "check_system",
    "check_until_settled",
    "database_urls",
]
