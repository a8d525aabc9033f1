"""Fixtures of the fault suite (marker `faults`): the machine's servers guarded by a file lock,
one distributed system for the session, a load process per test, and the JSON of recovery
times.

These tests stop and start the machine's real PostgreSQL, Redis and RabbitMQ. Only one fault
run may do that at a time: the session holds an exclusive fcntl lock on
/tmp/boxoffice-faults.lock (waiting for another run to finish), and after every test each
server must be up again — started the way it runs here if a test left it down.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults import profile as profiles
from tests.faults.cinema import Cinema
from tests.faults.loadrun import LoadRun
from tests.faults.mailbox import Mailbox
from tests.faults.report import PATH_ENV, FaultLog
from tests.faults.servers import ServerError, ensure_all_up

LOCK_PATH = Path("/tmp/boxoffice-faults.lock")
LOCK_WAIT_SECONDS = 1800.0
GATE_SECONDS = 60.0  # a healthy system buys a seat (and hears of it) well within this

# What every fault system runs with (besides the profile's settings): one client address sends
# the whole load, so the rate limits must not be what the suite measures; holds left by a
# purchase a fault cut short lapse within the run; an e-mail whose sender died is tried again
# after 50 s, not 90 (its claim lasts 4 SMTP timeouts + 30 s; the SMTP sink is local). A fault
# leaves the load's customers unpaid bookings (book answered, pay did not): the fair-share caps
# would end up refusing the load itself, as in bench/system.py.
SYSTEM_ENV = {
    "RATE_LIMIT_GENERAL": "1000000/minute",
    "RATE_LIMIT_BOOKING": "1000000/minute",
    "MAX_UNPAID_SEATS_PER_SHOWTIME": "1000000",
    "MAX_UNPAID_SEATS_IN_ALL": "1000000",
    "SEAT_HOLD_TTL_SECONDS": "60",
    "NOTIFICATION_SMTP_TIMEOUT_SECONDS": "5",
}


@pytest.fixture(scope="session")
def profile() -> profiles.Profile:
    return profiles.current()


@pytest.fixture(scope="session")
def fault_lock() -> Iterator[None]:
    """The machine's servers are ours alone until the session ends."""
    with LOCK_PATH.open("a+") as handle:
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.fail(f"another fault run held {LOCK_PATH} for {LOCK_WAIT_SECONDS} s")
                time.sleep(1)
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def system_settings(profile: profiles.Profile) -> dict[str, str]:
    return {**SYSTEM_ENV, **dict(profile.settings)}


@pytest.fixture(scope="session")
def faults_log(
    tmp_path_factory: pytest.TempPathFactory,
    profile: profiles.Profile,
    system_settings: dict[str, str],
) -> FaultLog:
    path = os.environ.get(PATH_ENV) or tmp_path_factory.getbasetemp() / "faults.json"
    return FaultLog(Path(path), profile.name, system_settings)


@pytest.fixture(scope="session")
def cinema(
    fault_lock: None,
    tmp_path_factory: pytest.TempPathFactory,
    system_settings: dict[str, str],
    profile: profiles.Profile,
) -> Iterator[Cinema]:
    ensure_all_up()
    mailbox = Mailbox().start()
    started = Cinema(tmp_path_factory.mktemp("faults"), mailbox, system_settings, profile.clients)
    try:
        yield started.start()
    finally:
        started.stop()
        mailbox.stop()


@pytest.fixture
def serving(cinema: Cinema, faults_log: FaultLog, request: pytest.FixtureRequest) -> Cinema:
    """The cinema, able to sell a seat and tell its buyer before the fault; started afresh if
    the last test's fault left it unable to (the JSON says so)."""
    probe = cinema.probe()
    try:
        gate = probe.buy(time.time(), GATE_SECONDS)
    finally:
        probe.close()
    if gate.notified_at is None:
        faults_log.note_restart(request.node.name)
        cinema.restart()
    return cinema


@pytest.fixture
def load(serving: Cinema, profile: profiles.Profile) -> LoadRun:
    """The steady hold → book → pay load, going again (it pauses for each test's checks) and
    paid a few times before the test's fault."""
    assert serving.load is not None
    since = time.time()
    serving.load.resume()
    serving.load.wait_paid(profile.warmup_payments, timeout=120, after=since)
    return serving.load


@pytest.fixture(autouse=True)
def servers_up_afterwards() -> Iterator[None]:
    """Every server is up again when a fault test ends (the test fails if one cannot be)."""
    yield
    try:
        ensure_all_up()
    except ServerError as exc:
        pytest.fail(f"a server could not be brought back: {exc}")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    with contextlib.suppress(Exception):
        path = os.environ.get(PATH_ENV) or str(
            terminalreporter.config._tmp_path_factory.getbasetemp() / "faults.json"  # type: ignore[attr-defined]
        )
        if Path(path).exists():
            terminalreporter.write_line(f"fault recovery times: {path}")
