"""The Friday-night rush (bench/locustfile.py) against the distributed system through NGINX,
then the rules checked where they live, in the databases: no seat sold twice, the money adds up,
nothing answered 5xx. A long profile: runs with BOXOFFICE_SLOW=1 (./scripts/test)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from boxoffice.invariants import ServiceDatabases, Violation
from boxoffice.invariants.seats import read_live_seats
from boxoffice.invariants.seats import seats_sold_twice as check_seats_sold_twice
from tests.conftest import POSTGRES_URL
from tests.e2e.system import running
from tests.invariants import money_report

pytestmark = pytest.mark.slow

LOCUSTFILE = Path(__file__).parents[2] / "bench" / "locustfile.py"
USERS, SECONDS = 40, 60


def database(prefix: str, name: str) -> str:
    return f"{POSTGRES_URL.rsplit('/', 1)[0]}/{prefix}{name}"


async def seats_sold_twice(bookings_url: str) -> list[Violation]:
    async with ServiceDatabases({"booking": bookings_url}) as db:
        return check_seats_sold_twice(await read_live_seats(db))


async def settled_money(payments_url: str, bookings_url: str):
    """The saga settles moments after the last request; then the money must add up."""
    for _ in range(120):
        report = await money_report(payments_url, bookings_url)
        if not report.violations:
            break
        await asyncio.sleep(0.5)
    return report


def test_a_friday_rush_sells_no_seat_twice_and_loses_no_money(tmp_path):
    env = {
        "BOXOFFICE_DEMO_DATA": "1",
        # One machine plays every customer, from one address: lift the per-client limits.
        "RATE_LIMIT_GENERAL": "1000000/minute",
        "RATE_LIMIT_BOOKING": "1000000/minute",
    }
    with running(tmp_path, distributed=True, env=env, args=["--workers", "2"]) as system:
        rush = subprocess.run(
            [
                str(Path(sys.executable).parent / "locust"),
                "-f",
                str(LOCUSTFILE),
                "--headless",
                "-u",
                str(USERS),
                "-r",
                "20",
                "-t",
                f"{SECONDS}s",
                "--host",
                system.base_url,
                "--json",
                "--only-summary",
            ],
            capture_output=True,
            text=True,
            timeout=SECONDS + 120,
        )
        assert rush.returncode in (0, 1), rush.stderr[-3000:]
        stats = json.loads(rush.stdout)
        requests = sum(s["num_requests"] for s in stats)
        failures = {s["name"]: s["num_failures"] for s in stats if s["num_failures"]}
        print(json.dumps({"requests": requests, "failures": failures}))
        assert requests > 500, "the rush barely happened"
        assert failures == {}, rush.stderr[-3000:]

        bookings = database(system.prefix, "bookings_db")
        payments = database(system.prefix, "payments_db")
        assert asyncio.run(seats_sold_twice(bookings)) == []
        report = asyncio.run(settled_money(payments, bookings))
        assert not report.violations, report.violations
        assert report.completed_total > 0
