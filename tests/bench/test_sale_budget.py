"""What a sale may cost for the flash sale's TPC-B target, beside what it cost and the servers'
floor (bench/targets.py), and the servers' CPU as the harness reads it (bench/processes.py)."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest

from bench import processes, targets

CEILINGS = {
    "pgbench_tpcb": {"tps": 2500.0},
    "pgbench_booking_tx": {"tps": 2000.0, "server_cpu_ms_per_tx": 0.8},
    "rabbitmq_quorum": {"messages_per_s": 2000.0, "server_cpu_ms_per_message": 0.3},
}


def sale_run(clients: int) -> dict:
    return {
        "clients": clients,
        "bookings_per_s": 25.0,
        "status_5xx": 0,
        "steps": {"book": {"ok_per_s": 25.0, "latency_ms": {"p99": 500.0}}},
        "invariant": {"checked": True, "capacity": 10, "seats_sold": 10, "seats_sold_twice": 0},
        "service_cpu": {
            "ms_per_booking": {"booking": 22.0, "payment": 13.0, "total": 60.0},
            "servers_ms_per_booking": {"postgresql": 9.5, "rabbitmq": 5.0, "total": 16.0},
        },
    }


def test_the_budget_is_the_machine_shared_by_a_fifth_of_tpcb_and_the_floor_is_the_servers_least():
    budget = targets.sale_budget(CEILINGS, sale_run(64), cores=2)
    # 2 cores, 0.2 x 2,500 sales a second: 4 ms of CPU a sale.
    assert budget["allowed_ms_per_sale"] == 4.0
    assert budget["measured_ms_per_sale"] == {"services": 60.0, "servers": 16.0, "total": 76.0}
    # Three booking-sized transactions (0.8 ms each) and three quorum messages (0.3 ms each).
    assert budget["floor_ms_per_sale"] == {"postgresql": 2.4, "rabbitmq": 0.9, "total": 3.3}
    assert budget["left_for_the_rest_ms"] == 0.7
    assert "SPEC 4.6" in budget["floor_is"]


def test_without_a_ceiling_the_budget_says_only_what_it_can():
    assert targets.sale_budget({}, sale_run(64), cores=2) is None
    partial = targets.sale_budget({"pgbench_tpcb": {"tps": 1000.0}}, None, cores=4)
    assert partial == {"cores": 4, "allowed_ms_per_sale": 20.0}
    skipped = {**CEILINGS, "rabbitmq_quorum": {"error": "ConnectionError: refused"}}
    assert "floor_ms_per_sale" not in targets.sale_budget(skipped, sale_run(64), cores=2)


def test_the_tpcb_target_of_a_flash_sale_carries_its_budget():
    result = {"runs": [sale_run(64), sale_run(16)]}
    _, checks = targets.flash_sale(result, CEILINGS, cores=2)
    (tpcb,) = [c for c in checks if "TPC-B" in c["target"]]
    assert tpcb["measured"] == 0.01 and tpcb["held"] is False
    assert tpcb["budget"]["allowed_ms_per_sale"] == 4.0
    assert tpcb["budget"]["measured_ms_per_sale"]["total"] == 76.0
    assert all("budget" not in c for c in checks if c is not tpcb)


@pytest.mark.skipif(shutil.which("python3") is None, reason="needs python3 on PATH")
def test_a_servers_cpu_includes_the_children_it_reaped(tmp_path, monkeypatch):
    """A PostgreSQL backend that exits (pgbench's, say) is counted through the postmaster: its
    CPU moves to the parent's cutime when the parent reaps it."""
    server = tmp_path / "fakeserver"
    shutil.copy("/bin/sh", server)
    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.4: pass"
    script = f"python3 -c '{burn}'; touch done; sleep 60; :"
    monkeypatch.setattr(processes, "SERVERS", {"fakeserver": "fake"})
    proc = subprocess.Popen([str(server), "-c", script], cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "done").exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        # The child burned 0.4 s of CPU and is gone; the parent itself did next to nothing.
        assert processes.server_cpu()["fake"] >= 0.35
    finally:
        proc.kill()
        proc.wait()
