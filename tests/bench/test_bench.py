"""`boxoffice bench`, run as a user runs it (the real command in a subprocess, tiny profile), and
checked as a user of the harness checks it: the JSON has its fields, no seat was sold twice,
nothing answered 5xx, the charts are PNGs, and nothing of the run is left behind. No timing
assertions: these machines are shared and the figures are what the harness is for."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from boxoffice.cli import app
from boxoffice.cli import bench as bench_cli
from boxoffice.gateway.render import render_local
from boxoffice.settings import Settings
from tests.conftest import POSTGRES_URL

BOXOFFICE = str(Path(sys.executable).with_name("boxoffice"))
PNG = b"\x89PNG\r\n\x1a\n"
LATENCY = {"p50", "p95", "p99", "max", "mean"}


def bench(out: Path, *args: str) -> dict[str, Any]:
    """Run `boxoffice bench all --tiny ARGS`; the reports by scenario."""
    run = subprocess.run(
        [BOXOFFICE, "bench", "all", "--tiny", "--out", str(out), *args],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    reports = json.loads(run.stdout)
    assert [r["scenario"] for r in reports] == [
        "flash-sale",
        "disjoint",
        "browse",
        "funnel",
        "live",
    ]
    return {r["scenario"]: r for r in reports}


def check_common(report: dict[str, Any], mode: str) -> None:
    assert report["mode"] == mode and report["profile"] == "tiny"
    assert report["machine"]["cores"] >= 1 and len(report["machine"]["load_average_at_start"]) == 3
    assert report["system"]["environment"]["RATE_LIMIT_GENERAL"] == "1000000/minute"
    assert report["system"]["stop"]["seconds"] >= 0
    assert report["loadgen_cpu_whole_run"]["cpu_s"] > 0
    assert report["service_rss"] and all(
        part["peak_rss_mb"] for part in report["service_rss"].values()
    )
    checks = report["targets"]["checks"]
    assert checks and all({"target", "measured", "must_be", "held"} <= set(c) for c in checks)
    assert report["targets"]["apply"] is (mode == "distributed")
    saved = Path(report["files"]["json"])
    assert json.loads(saved.read_text())["result"] == report["result"]
    assert Path(report["files"]["png"]).read_bytes().startswith(PNG)
    assert saved.name.startswith(f"{report['scenario']}-{mode}-")


def check_scenarios(reports: dict[str, Any], database: str) -> None:
    (sale,) = reports["flash-sale"]["result"]["runs"]
    assert {"bookings_per_s", "seats_per_s", "time_to_sell_out_s", "status_409"} <= set(sale)
    assert {"hold", "hold_best", "book", "pay"} <= set(sale["steps"])
    assert set(sale["steps"]["book"]["latency_ms"]) == LATENCY
    assert sale["status_5xx"] == 0 and sale["connection_errors"] == 0
    assert database in sale["invariant"]["source"]
    assert sale["invariant"]["checked"] and sale["invariant"]["seats_sold_twice"] == 0
    assert sale["sold_out"] and sale["invariant"]["seats_sold"] == sale["invariant"]["capacity"]
    assert sale["loadgen_cpu"]["wall_s"] > 0

    (rush,) = reports["disjoint"]["result"]["runs"]
    assert rush["success_rate"] == 1.0 and rush["status_5xx"] == 0
    assert rush["invariant"]["seats_sold_twice"] == 0
    assert set(rush["latency_ms"]) == LATENCY

    browse = reports["browse"]["result"]
    (mixed,) = browse["mixed"]
    assert {"movies", "showtimes", "seat_map_20", "seat_map_60", "best_seats"} == set(
        mixed["endpoints"]
    )
    assert [f["endpoint"] for f in browse["focused"]] == ["seat_map_20", "seat_map_60"]
    assert all(r["status_5xx"] == 0 for r in [mixed, *browse["focused"]])

    (funnel,) = reports["funnel"]["result"]["runs"]
    assert funnel["funnels_paid"] >= 1 and funnel["status_5xx"] == 0
    # Every paid customer's confirmation and notice was timed, on the services' clocks (what
    # the targets judge) and as the customer's polls saw them; a saga does not finish before
    # the payment that starts it.
    assert funnel["untimed"] == 0 and funnel["never_confirmed"] == funnel["never_notified"] == 0
    for measure in ("payment_to_confirmed", "payment_to_notification"):
        for figure in (funnel[f"{measure}_ms"], funnel[f"{measure}_observed_ms"]):
            assert set(figure) == LATENCY and figure["p50"] is not None
        assert funnel[f"{measure}_ms"]["max"] >= 0

    live = reports["live"]["result"]
    assert live["connected"] == live["listeners"] == 20 and live["status_5xx"] == 0
    assert live["changes"] == 20 and live["missed_deliveries"] == 0
    assert live["deliveries"] == 20 * 20 and set(live["delivery_ms"]) == LATENCY


def test_every_scenario_runs_embedded_and_leaves_a_json_and_a_chart(tmp_path):
    reports = bench(tmp_path / "results", "--embedded", "--no-ceilings")
    for report in reports.values():
        check_common(report, "embedded")
        assert report["ceilings"] == {"skipped": "--no-ceilings"}
    check_scenarios(reports, "SQLite")


async def databases_named(prefix: str) -> list[str]:
    import asyncpg

    conn = await asyncpg.connect(POSTGRES_URL.replace("+asyncpg", ""))
    try:
        rows = await conn.fetch(
            "SELECT datname FROM pg_database WHERE starts_with(datname, $1)", prefix
        )
        return [r["datname"] for r in rows]
    finally:
        await conn.close()


@pytest.mark.distributed
def test_every_scenario_runs_distributed_with_ceilings_through_the_gateway(tmp_path):
    reports = bench(tmp_path / "results", "--workers", "1")
    for report in reports.values():
        check_common(report, "distributed")
    check_scenarios(reports, "PostgreSQL")
    ceilings = reports["flash-sale"]["ceilings"]
    assert ceilings["pgbench_tpcb"]["tps"] > 0
    assert ceilings["pgbench_booking_tx"]["tps"] > 0
    assert ceilings["redis_benchmark"]["set_per_s"] > 0
    # The servers' own CPU per unit of work, and what it makes of a sale's budget.
    assert ceilings["pgbench_booking_tx"]["server_cpu_ms_per_tx"] > 0
    assert ceilings["rabbitmq_quorum"]["messages_per_s"] > 0
    assert ceilings["rabbitmq_quorum"]["server_cpu_ms_per_message"] > 0
    (tpcb,) = [c for c in reports["flash-sale"]["targets"]["checks"] if "TPC-B" in c["target"]]
    assert {"allowed_ms_per_sale", "floor_ms_per_sale", "left_for_the_rest_ms"} <= set(
        tpcb["budget"]
    )
    assert ceilings["ping"]["url"].endswith("/gateway/ping")
    assert list(ceilings["ping"]["status"]) == ["200"]
    assert set(reports["flash-sale"]["service_rss"]) >= {"auth", "booking", "gateway"}
    ratios = reports["browse"]["ratios_to_ceilings"]["focused"]
    assert set(ratios) == {"seat_map_20", "seat_map_60"}
    prefix = reports["flash-sale"]["system"]["db_prefix"]
    assert prefix and asyncio.run(databases_named(prefix)) == []


def test_an_unknown_scenario_is_a_clear_error():
    result = CliRunner().invoke(app, ["bench", "rush-hour"])
    assert result.exit_code == 1
    assert "unknown scenario 'rush-hour'" in result.output


def test_outside_a_checkout_the_command_says_bench_is_not_installed(monkeypatch):
    monkeypatch.setattr(bench_cli, "checkout_root", lambda: None)
    result = CliRunner().invoke(app, ["bench", "browse"])
    assert result.exit_code == 1
    assert "bench/ folder is not installed" in " ".join(result.output.split())


def test_the_ping_location_is_rendered_only_for_the_benchmark(tmp_path):
    plain = render_local(Settings(_env_file=None), tmp_path, port=18080)
    with_ping = render_local(Settings(_env_file=None), tmp_path, port=18080, bench_ping_port=9)
    assert "/gateway/ping" not in plain
    assert "location = /gateway/ping" in with_ping and "server 127.0.0.1:9;" in with_ping
    help_text = CliRunner().invoke(app, ["up", "--help"]).output
    assert "bench-ping-port" not in help_text
