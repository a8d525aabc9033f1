"""kill -9 of the services' processes, and of one uvicorn worker, under a steady booking and
payment load: the supervisor (or uvicorn, for a worker) starts them again, and nothing they had
answered 2xx for is lost.

Each service's outbox relay and event consumer run inside its processes, so killing a service
kills its relay and its consumer too (mid-publish, mid-handling): these tests cover them.

The short profile kills all five services at once (one restart wave: every process, relay and
consumer dies together); the long one (BOXOFFICE_SLOW=1) also kills each service on its own,
for a recovery time per service."""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.e2e.system import alive
from tests.faults.harness import conclude, in_background
from tests.faults.servers import wait_until

pytestmark = [pytest.mark.faults, pytest.mark.distributed, pytest.mark.timeout(900)]

# A notification process killed between the SMTP server's "250 OK" and marking the notice sent
# sends it again once its claim lapses: each worker may have had one e-mail in that window.
NOTIFICATION_WORKERS = len(os.sched_getaffinity(0))

WHAT_DIES = {
    "auth": "logins",
    "movie": "the catalog, its relay and consumer",
    "booking": "holds and bookings, its relay and consumer",
    "payment": "payments, its relay and consumer",
    "notification": "notices and e-mails, its consumer",
}


def gone(pids: list[int]) -> float:
    """Until the killed process's workers are gone too: the supervisor kills its group when it
    sees it die, and until then the orphaned workers still answer (a purchase then would time
    nothing)."""
    return wait_until(
        lambda: not any(alive(pid) for pid in pids), 30, "the killed group to be gone"
    )


def test_every_service_killed_at_once_comes_back_and_keeps_every_promise(
    serving, load, faults_log, profile
):
    probe = serving.probe()
    victims = {service: serving.pid(service) for service in WHAT_DIES}
    groups = [pid for service in WHAT_DIES for pid in serving.group(service)]
    killed_at = time.time()
    for pid in victims.values():
        os.kill(pid, signal.SIGKILL)
    orphans = gone(groups)
    restarted = in_background(
        lambda: [
            serving.wait_running(service, pid, timeout=profile.recovery_bound)
            for service, pid in victims.items()
        ]
    )
    recovery = probe.buy(killed_at, profile.recovery_bound)
    restarted.result()
    probe.close()
    conclude(
        serving,
        load,
        faults_log,
        profile,
        fault_id="kill-all-services",
        title="kill -9 of all five services at once (every relay and consumer with them)",
        recovery=recovery,
        checked=("supervisor restarted every service",),
        resends=NOTIFICATION_WORKERS,
        extra={
            "all_running_after_s": round(restarted.finished_at - killed_at, 2),
            "workers_outlived_it_s": round(orphans, 2),
        },
    )


@pytest.mark.slow
@pytest.mark.parametrize("service", list(WHAT_DIES))
def test_a_killed_service_comes_back_and_keeps_every_promise(
    service, serving, load, faults_log, profile
):
    probe = serving.probe()
    victim = serving.pid(service)
    group = serving.group(service)
    killed_at = time.time()
    os.kill(victim, signal.SIGKILL)
    orphans = gone(group)
    restarted = in_background(
        lambda: serving.wait_running(service, victim, timeout=profile.recovery_bound)
    )
    recovery = probe.buy(killed_at, profile.recovery_bound)
    restarted.result()
    probe.close()
    conclude(
        serving,
        load,
        faults_log,
        profile,
        fault_id=f"kill-{service}",
        title=f"kill -9 {service} ({WHAT_DIES[service]})",
        recovery=recovery,
        checked=(f"supervisor restarted {service}",),
        resends=NOTIFICATION_WORKERS if service == "notification" else 0,
        extra={
            "running_after_s": round(restarted.finished_at - killed_at, 2),
            "workers_outlived_it_s": round(orphans, 2),
        },
    )


def test_a_killed_booking_worker_is_replaced_while_the_other_serves(
    serving, load, faults_log, profile
):
    workers = serving.workers("booking")
    assert len(workers) >= 2, f"booking runs {len(workers)} worker(s): nothing to kill alone"
    restarts = serving.state("booking")["restarts"]
    probe = serving.probe()
    killed_at = time.time()
    os.kill(workers[0], signal.SIGKILL)
    replaced = in_background(
        lambda: wait_until(
            lambda: (
                len(serving.workers("booking")) == len(workers)
                and workers[0] not in serving.workers("booking")
            ),
            profile.recovery_bound,
            "uvicorn to replace the killed booking worker",
        )
    )
    recovery = probe.buy(killed_at, profile.recovery_bound)
    probe.close()
    entry = conclude(
        serving,
        load,
        faults_log,
        profile,
        fault_id="kill-booking-worker",
        title="kill -9 one booking worker (uvicorn starts another)",
        recovery=recovery,
        checked=("uvicorn replaced the worker; the service was not restarted",),
    )
    # Waited for while the load ran and the checks settled.
    replaced.result()
    entry["worker_replaced_after_s"] = round(replaced.finished_at - killed_at, 2)
    faults_log.write()
    assert serving.state("booking")["restarts"] == restarts, "the whole service was restarted"
