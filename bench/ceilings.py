"""Ceilings, measured in the same run on the same machine: what PostgreSQL commits (pgbench
TPC-B, and the booking transaction's own SQL on a scratch copy of the bookings schema) and what
Redis answers (redis-benchmark). The ping ceiling is in ping.py. Scratch databases are dropped
and the benchmark's Redis key deleted afterwards."""

from __future__ import annotations

import asyncio
import glob
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench import resources
from bench.options import Profile
from bench.system import boxoffice_argv

BOOKING_SQL = Path(__file__).with_name("booking_tx.sql")
_TPS = re.compile(r"^tps = ([0-9.]+) \(without initial connection time\)", re.M)
_LATENCY = re.compile(r"^latency average = ([0-9.]+) ms", re.M)


def pgbench_binary() -> str | None:
    found = shutil.which("pgbench")
    if found:
        return found
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pgbench"))
    return candidates[-1] if candidates else None


async def _run(argv: list[str], env: dict[str, str], timeout: float) -> str:
    result = await asyncio.to_thread(
        subprocess.run, argv, capture_output=True, text=True, env=env, timeout=timeout
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{Path(argv[0]).name} exited {result.returncode}: "
            f"{(result.stderr or result.stdout).strip()[-500:]}"
        )
    return result.stdout + result.stderr


def _pgbench_result(output: str, argv: list[str], profile: Profile) -> dict[str, Any]:
    tps = _TPS.search(output)
    latency = _LATENCY.search(output)
    if not tps:
        raise RuntimeError(f"no tps in pgbench's output: {output[-300:]}")
    return {
        "tps": round(float(tps.group(1)), 1),
        "latency_avg_ms": float(latency.group(1)) if latency else None,
        "clients": profile.pgbench_clients,
        "seconds": profile.pgbench_seconds,
        "command": " ".join(Path(a).name if a.startswith("/") else a for a in argv),
    }


def _bench_args(profile: Profile) -> list[str]:
    return ["-c", str(profile.pgbench_clients), "-j", "2", "-T", str(profile.pgbench_seconds)]


async def pgbench_tpcb(prefix: str, profile: Profile) -> dict[str, Any]:
    """TPC-B (pgbench's default script) on a scratch database, dropped afterwards."""
    binary = pgbench_binary()
    if binary is None:
        return {"skipped": "pgbench is not installed (Debian: postgresql-contrib)"}
    pg = resources.Postgres.from_url()
    name = f"{prefix}pgbench"
    env = {**os.environ, **pg.cli_env()}
    try:
        await resources.create_database(name, pg)
        await _run([binary, "-i", "-q", "-s", str(profile.pgbench_scale), name], env, 600)
        argv = [binary, *_bench_args(profile), name]
        result = _pgbench_result(
            await _run(argv, env, profile.pgbench_seconds + 120), argv, profile
        )
        return {**result, "scale": profile.pgbench_scale}
    finally:
        await resources.drop_databases(name, pg)


async def pgbench_booking(prefix: str, profile: Profile) -> dict[str, Any]:
    """The booking transaction's SQL (bench/booking_tx.sql) on a scratch database migrated with
    the booking service's own migrations (`boxoffice migrate booking`), dropped afterwards."""
    binary = pgbench_binary()
    if binary is None:
        return {"skipped": "pgbench is not installed (Debian: postgresql-contrib)"}
    pg = resources.Postgres.from_url()
    name = f"{prefix}pgbench_booking"
    env = {**os.environ, **pg.cli_env()}
    try:
        await resources.create_database(name, pg)
        migrate_env = {
            k: v for k, v in os.environ.items() if not k.startswith(("BOXOFFICE_", "DATABASE_"))
        }
        migrate_env |= {"DATABASE_URL": pg.sqlalchemy_url(name), "LOG_LEVEL": "WARNING"}
        await _run([*boxoffice_argv(), "migrate", "booking"], migrate_env, 180)
        argv = [binary, "-n", "-f", str(BOOKING_SQL), *_bench_args(profile), name]
        result = _pgbench_result(
            await _run(argv, env, profile.pgbench_seconds + 120), argv, profile
        )
        return {**result, "script": "bench/booking_tx.sql"}
    finally:
        await resources.drop_databases(name, pg)


async def redis_benchmark(profile: Profile) -> dict[str, Any]:
    """`redis-benchmark -q -t set,get` on the same Redis; its one key is deleted afterwards."""
    binary = shutil.which("redis-benchmark")
    if binary is None:
        return {"skipped": "redis-benchmark is not installed (Debian: redis-tools)"}
    url = urlsplit(resources.REDIS_URL)
    db = (url.path or "/0").strip("/") or "0"
    argv = [
        binary,
        "-h",
        url.hostname or "127.0.0.1",
        "-p",
        str(url.port or 6379),
        "--dbnum",
        db,
        "-q",
        "-n",
        str(profile.redis_requests),
        "-t",
        "set,get",
    ]
    env = dict(os.environ)
    if url.password:
        env["REDISCLI_AUTH"] = url.password
    try:
        output = await _run(argv, env, 300)
    finally:
        await _delete_benchmark_key()
    # Lines like "SET: 86956.52 requests per second, p50=0.287 msec" (after \r progress).
    found = {
        m.group(1).lower(): (float(m.group(2)), float(m.group(3)) if m.group(3) else None)
        for m in re.finditer(
            r"(SET|GET): ([0-9.]+) requests per second(?:, p50=([0-9.]+) msec)?", output
        )
    }
    if not found:
        raise RuntimeError(f"no figures in redis-benchmark's output: {output[-300:]}")
    result: dict[str, Any] = {"requests": profile.redis_requests}
    for op, (rps, p50) in found.items():
        result[f"{op}_per_s"] = rps
        result[f"{op}_p50_ms"] = p50
    result["command"] = " ".join(["redis-benchmark", *argv[1:]])
    return result


async def _delete_benchmark_key() -> None:
    from redis.asyncio import Redis

    redis = Redis.from_url(resources.REDIS_URL)
    try:
        await redis.delete("key:__rand_int__")  # redis-benchmark's SET/GET key
    finally:
        await redis.aclose()


async def database_and_redis(prefix: str, profile: Profile) -> dict[str, Any]:
    """Each ceiling's figures, or why it is missing (never fails the run)."""
    out: dict[str, Any] = {}
    for name, job in (
        ("pgbench_tpcb", pgbench_tpcb(prefix, profile)),
        ("pgbench_booking_tx", pgbench_booking(prefix, profile)),
        ("redis_benchmark", redis_benchmark(profile)),
    ):
        try:
            out[name] = await job
        except Exception as exc:
            out[name] = {"error": f"{type(exc).__name__}: {exc}"}
    return out
