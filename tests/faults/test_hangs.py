"""Parts that hang instead of dying: the movie service stopped with SIGSTOP (booking's circuit
breaker opens and booking answers 503 fast instead of hanging; it recovers after SIGCONT), and a
card gateway slower than the payment service's timeout (payments fail cleanly as 504, nothing is
charged or confirmed by mistake, and paying works again once the gateway is quick)."""

from __future__ import annotations

import contextlib
import os
import signal
import time

import pytest

from tests.faults.harness import conclude

pytestmark = [pytest.mark.faults, pytest.mark.distributed, pytest.mark.timeout(900)]

FAST_SECONDS = 1.0  # a breaker that is open answers within this
# A payment whose card gateway never answers fails within the gateway's timeout and this much
# more (its booking read, its two writes, on a busy shared machine).
PAYMENT_MARGIN_SECONDS = 3.0
OPEN_WITHIN = 60.0  # the breaker must have opened this long after the hang began


def answer_times(probe, token: str, until: float) -> list[tuple[float, int, str]]:
    """Hold a seat of the probe's showtime (which booking has not read from the movie service
    yet) again and again: (seconds taken, status, error_type) of each answer, until booking
    has answered 503 fast three times in a row or `until` passes."""
    seen: list[tuple[float, int, str]] = []
    selection = {"showtime_id": probe.showtime_id, "seat_ids": [probe.seats[-1]]}
    while time.time() < until:
        started = time.monotonic()
        try:
            answer = probe.http.post(
                "/api/bookings/seats/hold",
                json=selection,
                headers={"Authorization": f"Bearer {token}"},
                timeout=60,
            )
            status = answer.status_code
            kind = str(answer.json().get("error_type", "")) if status >= 400 else ""
        except Exception as exc:
            status, kind = 0, type(exc).__name__
        seen.append((round(time.monotonic() - started, 3), status, kind))
        if len(seen) >= 3 and all(s == 503 and t < FAST_SECONDS for t, s, _ in seen[-3:]):
            break
        time.sleep(0.05)
    return seen


def test_a_hung_movie_service_opens_bookings_breaker_and_booking_recovers(
    serving, load, faults_log, profile
):
    probe = serving.probe()  # a showtime booking has not read yet: booking must ask movie
    token = serving.login(probe.email, "Fault-Probe-2468!")
    group = serving.pid("movie")
    stopped_at = time.time()
    os.killpg(group, signal.SIGSTOP)
    try:
        seen = answer_times(probe, token, until=stopped_at + OPEN_WITHIN)
        time.sleep(max(0.0, stopped_at + profile.outage_seconds - time.time()))
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGCONT)
    resumed_at = time.time()
    recovery = probe.buy(resumed_at, profile.recovery_bound)
    probe.close()
    fast = [i for i, (t, s, _) in enumerate(seen) if s == 503 and t < FAST_SECONDS]
    opened = sum(t for t, _, _ in seen[: fast[0]]) if fast else None
    paid_while_hung = len(load.records().paid(after=stopped_at, before=resumed_at))
    conclude(
        serving,
        load,
        faults_log,
        profile,
        fault_id="movie-sigstop",
        title="movie service hangs (SIGSTOP of its processes), then SIGCONT",
        recovery=recovery,
        outage=resumed_at - stopped_at,
        checked=(
            "booking answers 503 within 1 s once its breaker is open",
            "no answer but 503 while movie hangs",
        ),
        extra={
            "breaker_open_after_s": None if opened is None else round(opened, 2),
            "slowest_answer_s": max(t for t, _, _ in seen),
            "answers_while_hung": [f"{s} {k} in {t:.2f} s" for t, s, k in seen[-10:]],
            "paid_while_hung": paid_while_hung,
        },
    )
    assert fast, f"booking never answered 503 within {FAST_SECONDS} s: {seen}"
    assert {s for _, s, _ in seen} == {503}, f"answers while movie hung: {seen}"
    assert {k for _, s, k in seen} == {"ServiceUnavailable"}, seen


def test_a_card_gateway_slower_than_its_timeout_fails_payments_cleanly(
    serving, load, faults_log, profile
):
    probe = serving.probe()
    timeout = float(dict(profile.settings).get("PAYMENT_GATEWAY_TIMEOUT_SECONDS", 5))
    slow_from = time.time()
    load.control(card_token="tok_timeout")  # every card now hangs past the timeout
    try:
        timed_out = probe.buy(time.time(), timeout + 3, card="tok_timeout")
        time.sleep(max(0.0, slow_from + profile.outage_seconds - time.time()))
    finally:
        load.control(card_token=None)
    quick_again = time.time()
    recovery = probe.buy(quick_again, profile.recovery_bound)
    probe.close()
    # What the load's customers met while their cards were slow (answers of payments started in
    # that window).
    records = load.records()
    slow_pays = [
        a for a in records.answers if a["step"] == "pay" and a.get("card") == "tok_timeout"
    ]
    conclude(
        serving,
        load,
        faults_log,
        profile,
        fault_id="card-gateway-timeout",
        title="card gateway slower than its timeout (tok_timeout), then quick again",
        recovery=recovery,
        outage=quick_again - slow_from,
        checked=(
            f"each slow payment 504 within the timeout + {PAYMENT_MARGIN_SECONDS:.0f} s",
            "no slow payment charged or confirmed",
        ),
        extra={
            "gateway_timeout_s": timeout,
            "slow_payments": len(slow_pays),
            "slowest_slow_payment_s": max((a["ms"] for a in slow_pays), default=0) / 1000,
        },
    )
    assert timed_out.paid_at is None, "a payment went through a gateway that never answered"
    assert timed_out.refused.get("pay 504"), dict(timed_out.refused)
    assert slow_pays, "the load paid no slow card"
    assert {a["status"] for a in slow_pays} == {504}, {a["status"] for a in slow_pays}
    slowest = max(a["ms"] for a in slow_pays) / 1000
    assert slowest < timeout + PAYMENT_MARGIN_SECONDS, f"a slow payment took {slowest} s"
