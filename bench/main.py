"""`boxoffice bench SCENARIO`: start the system (or use one at --url), measure the ceilings, set
up the catalog and customers, run each scenario, then write one JSON report and one PNG chart per
scenario and print the JSON. Everything the run started or created is gone afterwards."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import platform
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import uvloop

from bench import browse, ceilings, chart, disjoint, flash_sale, funnel, live, targets
from bench.catalog import Catalog
from bench.load import CpuMeter, Http, Recorder
from bench.options import Context, Options
from bench.ping import measure, ping_ceiling
from bench.processes import peak_rss, until_idle
from bench.system import System

Runner = Callable[[Context], Awaitable[tuple[dict[str, Any], list[Recorder]]]]
RUNNERS: dict[str, Runner] = {
    "flash-sale": flash_sale.run,
    "disjoint": disjoint.run,
    "browse": browse.run,
    "funnel": funnel.run,
    "live": live.run,
}


_T0 = time.monotonic()


def progress(message: str) -> None:
    print(f"[{time.monotonic() - _T0:6.1f} s] {message}", file=sys.stderr, flush=True)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def machine() -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "loadgen": f"aiohttp {version('aiohttp')} on uvloop, one process (this one)",
    }


async def measure_ceilings(opts: Options, system: System | None, prefix: str) -> dict[str, Any]:
    if not opts.ceilings:
        return {"skipped": "--no-ceilings"}
    out = await ceilings.servers(prefix, opts.profile)
    if system is None:
        why = "--url: needs the harness's own system (its gateway and run dir)"
        out["ping"] = {"skipped": why}
        return out
    try:
        out["ping"] = await ping_ceiling(
            gateway_url=system.base_url if system.distributed else None,
            port=system.ping_port,
            workers=system.workers if system.distributed else 1,
            clients=opts.focus_clients,
            seconds=opts.seconds,
        )
        if system.distributed:
            out["nginx_static"] = await measure(
                system.base_url, "/gateway/health", opts.focus_clients, opts.seconds, "nginx"
            )
            out["nginx_static"]["through"] = "nginx alone (answers /gateway/health itself)"
    except Exception as exc:
        out["ping"] = {"error": f"{type(exc).__name__}: {exc}"}
    return out


SETTLE_SECONDS = 180.0
QUIET_CORES = 0.15


async def settle(system: System) -> str:
    """Wait until the system is idle again: what one scenario left to do (events, e-mails)
    must not be measured as part of the next one."""
    took = await until_idle(system.part_pids(), SETTLE_SECONDS, QUIET_CORES)
    if took is None:
        return f"system still busy after {SETTLE_SECONDS:.0f} s (measured anyway)"
    return f"system idle after {took:.0f} s"


def system_rss(system: System | None) -> dict[str, Any]:
    if system is None:
        return {
            "skipped": "--url: the process ids are in the run dir of a system the harness "
            "did not start"
        }
    try:
        return peak_rss(system.part_pids())
    except (OSError, ValueError, KeyError) as exc:
        return {"skipped": f"cannot read the processes: {exc}"}


def assemble(
    name: str,
    opts: Options,
    started: dt.datetime,
    base: dict[str, Any],
    result: dict[str, Any],
    rss: dict[str, Any],
) -> dict[str, Any]:
    ratios, checks = targets.BY_SCENARIO[name](result, base["ceilings"])
    checks += targets.rss(rss)
    return {
        "scenario": name,
        "mode": opts.mode,
        "profile": "tiny" if opts.tiny else "default",
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": utc_now().isoformat(timespec="seconds"),
        **base,
        "result": result,
        "ratios_to_ceilings": ratios,
        "service_rss": rss,
        "targets": {
            "apply": opts.mode == "distributed",
            "about": "issue 9's targets are for distributed mode through NGINX",
            "all_held": all(t["held"] for t in checks),
            "checks": checks,
        },
    }


def write(report: dict[str, Any], recorders: list[Recorder], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.fromisoformat(report["started_at"]).strftime("%Y%m%dT%H%M%SZ")
    stem = out / f"{report['scenario']}-{report['mode']}-{stamp}"
    report["files"] = {"json": str(stem.with_suffix(".json")), "png": str(stem.with_suffix(".png"))}
    chart.draw(
        stem.with_suffix(".png"),
        f"boxoffice bench {report['scenario']} ({report['mode']}, {report['started_at']})",
        recorders,
    )
    stem.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")


def say(report: dict[str, Any]) -> None:
    """A few lines for a person, on stderr (stdout is the JSON)."""
    err = sys.stderr
    print(f"\n== {report['scenario']} ({report['mode']})", file=err)
    print(f"   ratios to ceilings: {json.dumps(report['ratios_to_ceilings'])}", file=err)
    for check in report["targets"]["checks"]:
        mark = {True: "held", False: "MISSED", None: "not measured"}[check["held"]]
        print(
            f"   {mark:12} {check['target']}: {check['measured']} (must be {check['must_be']})",
            file=err,
        )
        budget = check.get("budget")
        if budget:
            print(f"{'':15}a sale's CPU, ms: {json.dumps(budget, ensure_ascii=False)}", file=err)


async def run_all(opts: Options) -> list[dict[str, Any]]:
    meter = CpuMeter()
    base: dict[str, Any] = {"machine": machine(), "notes": []}
    system = None
    done: list[tuple[dict[str, Any], list[Recorder]]] = []
    try:
        if opts.url:
            url, email, password = opts.url, opts.admin_email or "", opts.admin_password or ""
            base["system"] = {"started_by_harness": False, "url": url}
            database = None
            prefix = f"bench{uuid.uuid4().hex[:8]}_"
        else:
            system = System(
                distributed=not opts.embedded,
                workers=opts.workers,
                grace=opts.profile.stop_grace,
            )
            progress(f"starting the system ({system.mode}) ...")
            await asyncio.to_thread(system.start)
            url, email, password = system.base_url, system.admin_email, system.admin_password
            base["system"] = system.settings_for_report()
            database, prefix = system.bookings_database(), system.prefix
        progress("measuring the ceilings ..." if opts.ceilings else "no ceilings (--no-ceilings)")
        base["ceilings"] = await measure_ceilings(opts, system, prefix)
        progress("setting up the catalog and customers ...")
        async with Http(url) as http:
            catalog = await Catalog.login_admin(http, email, password)
            await catalog.create_movie()
            for seats in opts.halls:
                await catalog.create_hall(seats)
            setup_started = time.perf_counter()
            await catalog.ensure_customers(opts.customers_needed())
            base["setup"] = {
                "customers": len(catalog.customers),
                "seconds": round(time.perf_counter() - setup_started, 2),
            }
            ctx = Context(opts, http, catalog, database, parts=system.part_pids if system else None)
            for name in opts.scenarios:
                if system is not None and len(opts.scenarios) > 1:
                    quiet = await settle(system)
                    base["notes"].append(f"before {name}: {quiet}")
                progress(f"running {name} ...")
                started = utc_now()
                result, recorders = await RUNNERS[name](ctx)
                done.append(
                    (assemble(name, opts, started, base, result, system_rss(system)), recorders)
                )
    finally:
        if system is not None:
            progress("stopping the system and removing what it created ...")
            problems = await asyncio.to_thread(system.stop)
            progress("stopped")
            base["notes"] += [f"clean-up: {p}" for p in problems]
            base.setdefault("system", {})["stop"] = system.stop_report
            if not system.stop_report.get("exited_after_sigterm", True):
                base["notes"].append(
                    f"the system did not exit within {system.stop_report['grace_s']} s of SIGTERM "
                    "and was killed (SIGKILL)"
                )
        for report, recorders in done:
            report["loadgen_cpu_whole_run"] = meter.report()
            write(report, recorders, opts.out)
    for report, _ in done:
        say(report)
    return [report for report, _ in done]


def run(opts: Options) -> int:
    """Run, print the JSON (one object, or a list for `all`); 0 when it ran (targets may miss)."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        reports = runner.run(run_all(opts))
    payload: Any = reports if opts.scenario == "all" else reports[0]
    sys.stdout.write(json.dumps(payload, indent=2) + "\n")
    return 0
