"""`bench/statements.py` counts a sale's statements per booking from PostgreSQL's log: only from
the first booking on, per service database whatever the run's prefix, transaction control
apart. (Running it turns on statement logging server-wide, so the suite tests the counting on
lines shaped as Debian's PostgreSQL writes them.)"""

from __future__ import annotations

from bench.statements import bookings_of, count_statements

PREFIX = "2026-12-01 17:16:55.520 UTC [6594] postgres@"


def line(database: str, sql: str, *, prepared: bool = True) -> str:
    how = "execute __asyncpg_stmt_16__" if prepared else "statement"
    return f"{PREFIX}{database} LOG:  {how}: {sql}"


LOG = [
    # Setup, before the first booking: not counted.
    line("bench1a2b3c4d_movies_db", "INSERT INTO showtimes (id) VALUES ($1)"),
    line("bench1a2b3c4d_bookings_db", "BEGIN ISOLATION LEVEL READ COMMITTED;", prepared=False),
    line("bench1a2b3c4d_bookings_db", "INSERT INTO bookings (id, user_id) VALUES ($1, $2)"),
    "\tFROM event_outbox AS event_outbox_1 ",  # a statement's continuation line
    line("bench1a2b3c4d_bookings_db", "INSERT INTO booking_seats (id) VALUES ($1), ($2)"),
    line("bench1a2b3c4d_bookings_db", "COMMIT;", prepared=False),
    line("bench1a2b3c4d_notifications_db", "INSERT INTO event_inbox (event_id) VALUES ($1)"),
    "2026-12-01 17:16:56.001 UTC [6600] LOG:  checkpoint starting: time",
    line("bench1a2b3c4d_bookings_db", "BEGIN ISOLATION LEVEL READ COMMITTED;", prepared=False),
    line("bench1a2b3c4d_bookings_db", "INSERT INTO bookings (id, user_id) VALUES ($1, $2)"),
    line("bench1a2b3c4d_bookings_db", "ROLLBACK;", prepared=False),
    line("postgres", "SELECT datname FROM pg_database", prepared=False),
]


def test_statements_are_counted_per_booking_and_database_from_the_first_booking_on():
    report = count_statements(LOG, bookings=2)
    bookings = report["databases"]["bookings_db"]
    # 6 statements of bookings_db from the first INSERT INTO bookings on, over 2 bookings; the
    # BEGIN of that booking's transaction came before it.
    assert bookings["per_booking"] == 3.0
    assert bookings["transaction_control_per_booking"] == 1.5  # COMMIT, BEGIN, ROLLBACK
    assert bookings["most_frequent"]["INSERT INTO bookings (id, user_id) VALUES ($1, $2)"] == 1.0
    assert report["databases"]["notifications_db"]["per_booking"] == 0.5
    assert "movies_db" not in report["databases"]  # its only statement was setup
    assert report["databases"]["postgres"]["per_booking"] == 0.5
    assert report["per_booking_in_all"] == 4.0


def test_the_bookings_are_those_of_every_run_of_the_sale():
    sale = {
        "result": {"runs": [{"clients": 64, "bookings": 800}, {"clients": 16, "bookings": 790}]}
    }
    assert bookings_of(sale) == 1590
