"""Database statements per booking, by service database, read from PostgreSQL's own statement
log (issue 9): the count that explained most of what a sale costs. Prints JSON.

    .venv/bin/python bench/statements.py -- \\
        .venv/bin/boxoffice bench flash-sale --hall-seats 200 --clients 16 --no-ceilings

It turns on `log_statement = 'all'` with ALTER SYSTEM for the length of the command and turns
it off again afterwards, so it needs a superuser (`--psql`), and every client of that server is
logged meanwhile: run it on a machine of your own. The log's statements are counted from the
first booking's INSERT on (setup excluded), per database (`bench1a2b3c4d_bookings_db` counts as
`bookings_db`), and divided by the bookings the command's JSON reports. Statements run under
load, not in a one-client trace: the event consumers batch what arrives together, so the counts
depend on the load.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# Debian's log_line_prefix ('%m [%p] %q%u@%d '): time, zone, pid, user@database.
_LINE = re.compile(
    r"^\S+ \S+ \S+ \[\d+\] [^@\s]*@(?P<db>\S+) LOG:  (?:execute [^:]+|statement): (?P<sql>.*)"
)
_FIRST_BOOKING = "INSERT INTO bookings "
_TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")
# How much of a statement names it in the report.
_SHOWN = 60


def _database(name: str) -> str:
    """A benchmark's database without its run's prefix."""
    return name.split("_", 1)[1] if name.startswith("bench") and "_" in name else name


def count_statements(lines: Iterable[str], bookings: int, *, top: int = 12) -> dict[str, Any]:
    """Statements per booking from a PostgreSQL log's lines, per database, from the first
    booking's INSERT on: the total, the transaction control among them, the most frequent."""
    per_database: defaultdict[str, Counter[str]] = defaultdict(Counter)
    started = False
    for line in lines:
        match = _LINE.match(line)
        if match is None:
            continue
        sql = match["sql"]
        started = started or sql.startswith(_FIRST_BOOKING)
        if started:
            per_database[_database(match["db"])][sql[:_SHOWN].rstrip()] += 1
    if bookings <= 0:
        raise ValueError("no bookings to count statements per")
    report: dict[str, Any] = {}
    for database, statements in sorted(per_database.items()):
        control = sum(n for sql, n in statements.items() if sql.startswith(_TRANSACTION_CONTROL))
        report[database] = {
            "per_booking": round(sum(statements.values()) / bookings, 2),
            "transaction_control_per_booking": round(control / bookings, 2),
            "most_frequent": {
                sql: round(n / bookings, 2) for sql, n in statements.most_common(top)
            },
        }
    return {
        "bookings": bookings,
        "per_booking_in_all": round(sum(d["per_booking"] for d in report.values()), 2),
        "databases": report,
    }


def bookings_of(report: dict[str, Any]) -> int:
    """Bookings a `boxoffice bench flash-sale` JSON reports, over all its runs."""
    return sum(int(run.get("bookings", 0)) for run in report["result"]["runs"])


def _newest_log() -> Path:
    logs = sorted(Path("/var/log/postgresql").glob("postgresql-*.log"))
    if not logs:
        raise SystemExit("no PostgreSQL log under /var/log/postgresql: pass --log")
    return max(logs, key=lambda p: p.stat().st_mtime)


def _set_log_statement(psql: list[str], value: str | None) -> None:
    setting = (
        f"ALTER SYSTEM SET log_statement = '{value}'"
        if value
        else ("ALTER SYSTEM RESET log_statement")
    )
    subprocess.run(
        [*psql, "-qc", setting, "-c", "SELECT pg_reload_conf()"],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", type=Path, help="the server's log file (default: the newest)")
    parser.add_argument("--psql", default="psql -U postgres", help="how to reach a superuser")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- the benchmark to run")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("name the benchmark to run after --")
    log = args.log or _newest_log()
    psql = args.psql.split()
    offset = log.stat().st_size
    _set_log_statement(psql, "all")
    try:
        ran = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)
    finally:
        _set_log_statement(psql, None)
    with log.open("rb") as written:
        written.seek(offset)  # only what the command's run logged
        lines = written.read().decode(errors="replace").splitlines()
    counted = count_statements(lines, bookings_of(json.loads(ran.stdout)))
    json.dump({"command": command, "log": str(log), **counted}, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
