"""What every fault test does around its fault: a steady load from a second process, a probe
that measures the recovery, and the checks once the system has settled, written to the JSON."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from tests.faults.checks import settle
from tests.faults.cinema import Cinema, Recovery
from tests.faults.loadrun import LoadRun
from tests.faults.profile import Profile
from tests.faults.records import Records
from tests.faults.report import FaultLog


@contextlib.contextmanager
def restoring(*servers: Any) -> Iterator[None]:
    """Whatever happens in the block, each server is up again (and checked) afterwards."""
    try:
        yield
    finally:
        for server in servers:
            server.ensure_up()


class KnownProductBug(AssertionError):
    """The fault broke the system in a way already reported and not yet fixed (and in no other
    way): the test says so with `xfail(strict=True, raises=KnownProductBug)`."""


class Background(threading.Thread):
    """A wait that runs while the probe buys; `finished_at` is when it ended (epoch)."""

    def __init__(self, wait: Callable[[], Any]) -> None:
        super().__init__(daemon=True)
        self.wait = wait
        self.finished_at = 0.0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.wait()
        except BaseException as exc:
            self.error = exc
        self.finished_at = time.time()

    def result(self, timeout: float = 300) -> None:
        self.join(timeout)
        if self.error is not None:
            raise self.error


def in_background(wait: Callable[[], Any]) -> Background:
    waiting = Background(wait)
    waiting.start()
    return waiting


def load_view(records: Records, since: float) -> dict[str, Any]:
    """The fault as the load saw it: paid before and after, and the first payment of a purchase
    that started after `since`."""
    first = records.first_paid_after(since)
    return {
        "payments_2xx_before": len(records.paid(before=since)),
        "payments_2xx_after": len(records.paid(after=since)),
        "first_paid_after_s": None if first is None else round(first - since, 2),
        "answers_after": dict(sorted(records.statuses(after=since).items())),
    }


def conclude(
    cinema: Cinema,
    load: LoadRun,
    log: FaultLog,
    profile: Profile,
    *,
    fault_id: str,
    title: str,
    recovery: Recovery,
    outage: float | None = None,
    checked: tuple[str, ...] = (),
    extra: dict[str, Any] | None = None,
    resends: int = 0,
    known_bug: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Keep the load a little longer, pause it, let the system settle, check everything, and
    record the fault in the JSON; then assert what the record says. Problems that are all
    symptoms of `known_bug` (each contains one of its strings) raise KnownProductBug; any other
    problem fails as usual."""
    if recovery.paid_at is not None:
        with contextlib.suppress(AssertionError):
            load.wait_paid(1, timeout=profile.after_seconds + 30, after=recovery.paid_at)
        time.sleep(profile.after_seconds)
    records = load.pause()
    findings = settle(
        cinema.prefix,
        records,
        cinema.mailbox,
        timeout=profile.settle_bound,
        known=frozenset(cinema.known_problems),
        resends=resends,
        expected=known_bug,
    )
    # What this fault left behind is not the next one's to answer for.
    cinema.known_problems |= set(findings.problems) | set(findings.resent) | set(findings.unheard)
    bound = profile.recovery_bound
    passed = (
        recovery.paid_at is not None
        and recovery.confirmed_at is not None
        and recovery.notified_at is not None
        and not findings.problems
    )
    entry = {
        "id": fault_id,
        "fault": title,
        "profile": profile.name,
        "outage_s": None if outage is None else round(outage, 2),
        **recovery.report(),
        "recovery_bound_s": bound,
        "load": load_view(records, recovery.since),
        "checked": list(checked),
        "data": findings.counts,
        "problems": list(findings.problems.values())[:20],
        "problems_left_by_earlier_faults": findings.inherited,
        "resent_emails": findings.resent,
        "emails_again_after_an_unheard_copy": findings.unheard,
        "unmerged_purchase_notices": findings.unmerged[:10],
        "passed": passed,
        **(extra or {}),
    }
    log.add(entry)
    assert recovery.paid_at is not None, (
        f"{title}: no purchase went through within {bound} s: {dict(recovery.refused)}\n"
        f"{cinema.output()[-3000:]}"
    )
    assert recovery.confirmed_at is not None, f"{title}: the paid booking was never confirmed"
    assert recovery.notified_at is not None, f"{title}: the confirmation never reached notification"
    problems = list(findings.problems.values())
    message = f"{title}: after the fault:\n  " + "\n  ".join(problems[:20])
    if known_bug and problems and all(any(k in p for k in known_bug) for p in problems):
        raise KnownProductBug(message)
    assert not problems, message
    return entry
