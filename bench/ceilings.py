"""Ceilings, measured in the same run on the same machine: what PostgreSQL commits (pgbench
TPC-B, and the booking transaction's own SQL on a scratch copy of the bookings schema), what
Redis answers (redis-benchmark) and what RabbitMQ carries through one quorum queue (published
with confirms, consumed with acks), each with the server's own CPU per unit of work. The ping
ceiling is in ping.py. Scratch databases and queues are removed and the benchmark's Redis key
deleted afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import glob
import json
import os
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench import resources
from bench.options import Profile
from bench.processes import server_cpu
from bench.system import boxoffice_argv

BOOKING_SQL = Path(__file__).with_name("booking_tx.sql")
_TPS = re.compile(r"^tps = ([0-9.]+) \(without initial connection time\)", re.M)
_LATENCY = re.compile(r"^latency average = ([0-9.]+) ms", re.M)
_TRANSACTIONS = re.compile(r"^number of transactions actually processed: ([0-9]+)", re.M)


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


def _pgbench_result(
    output: str, argv: list[str], profile: Profile, server_cpu_s: float
) -> dict[str, Any]:
    tps = _TPS.search(output)
    latency = _LATENCY.search(output)
    transactions = _TRANSACTIONS.search(output)
    if not tps:
        raise RuntimeError(f"no tps in pgbench's output: {output[-300:]}")
    done = int(transactions.group(1)) if transactions else 0
    return {
        "tps": round(float(tps.group(1)), 1),
        "latency_avg_ms": float(latency.group(1)) if latency else None,
        "clients": profile.pgbench_clients,
        "seconds": profile.pgbench_seconds,
        "transactions": done,
        # PostgreSQL's own CPU (every postgres process, the run's backends included) per
        # transaction: what the server spends on one, whatever else shares the machine.
        "server_cpu_ms_per_tx": round(server_cpu_s * 1000 / done, 4) if done else None,
        "command": " ".join(Path(a).name if a.startswith("/") else a for a in argv),
    }


async def _pgbench(argv: list[str], env: dict[str, str], profile: Profile) -> dict[str, Any]:
    """Run pgbench once; its figures, with PostgreSQL's CPU per transaction."""
    before = server_cpu()["postgresql"]
    output = await _run(argv, env, profile.pgbench_seconds + 120)
    return _pgbench_result(output, argv, profile, server_cpu()["postgresql"] - before)


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
        return {**await _pgbench(argv, env, profile), "scale": profile.pgbench_scale}
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
        return {**await _pgbench(argv, env, profile), "script": "bench/booking_tx.sql"}
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


# An event about the size of a booking's (id, name, source, time and a dozen facts with seats).
_EVENT_BODY = json.dumps(
    {
        "id": str(uuid.UUID(int=0)),
        "name": "booking.created",
        "source": "booking",
        "occurred_at": "2026-12-02T00:00:00+00:00",
        "data": {"booking_id": str(uuid.UUID(int=1)), "seats": ["A1", "A2", "A3", "A4"]},
        "padding": "x" * 400,
    }
).encode()
# Publishes awaiting their confirms at once, and deliveries unacknowledged at once: a relay's
# batch and a consumer's prefetch are of this order.
_IN_FLIGHT = 64
_PREFETCH = 100


async def rabbitmq_quorum(prefix: str, profile: Profile) -> dict[str, Any]:
    """Messages through one durable quorum queue, as the services' events go (SPEC 4.6):
    persistent, each publish confirmed by the broker, each delivery acknowledged; with
    RabbitMQ's own CPU per message. The queue is deleted afterwards."""
    import aio_pika

    name = f"{prefix}bench.quorum"
    count = profile.rabbit_messages
    connection = await aio_pika.connect(resources.RABBITMQ_URL, timeout=10)
    async with connection:
        try:
            publisher = await connection.channel()  # publisher confirms: on by default
            consumer = await connection.channel()
            await consumer.set_qos(prefetch_count=_PREFETCH)
            queue = await consumer.declare_queue(
                name, durable=True, arguments={"x-queue-type": "quorum"}
            )
            received = 0
            all_in = asyncio.Event()

            async def on_message(message: Any) -> None:
                nonlocal received
                await message.ack()
                received += 1
                if received >= count:
                    all_in.set()

            slots = asyncio.Semaphore(_IN_FLIGHT)
            persistent = aio_pika.DeliveryMode.PERSISTENT

            async def publish() -> None:
                async with slots:
                    await publisher.default_exchange.publish(
                        aio_pika.Message(_EVENT_BODY, delivery_mode=persistent),
                        routing_key=name,
                        timeout=30,
                    )

            before = server_cpu()["rabbitmq"]
            started = time.perf_counter()
            tag = await queue.consume(on_message)
            await asyncio.gather(*(publish() for _ in range(count)))
            await asyncio.wait_for(all_in.wait(), timeout=60 + count / 200)
            seconds = time.perf_counter() - started
            cpu_s = server_cpu()["rabbitmq"] - before
            await queue.cancel(tag)
        finally:
            with contextlib.suppress(Exception):
                cleanup = await connection.channel()
                await cleanup.queue_delete(name)
    return {
        "messages": count,
        "messages_per_s": round(count / seconds, 1),
        "server_cpu_ms_per_message": round(cpu_s * 1000 / count, 4),
        "body_bytes": len(_EVENT_BODY),
        "in_flight": _IN_FLIGHT,
        "prefetch": _PREFETCH,
        "how": "one durable quorum queue; persistent messages, each publish confirmed, each "
        "delivery acknowledged (aio-pika, this process)",
    }


async def servers(prefix: str, profile: Profile) -> dict[str, Any]:
    """Each ceiling's figures, or why it is missing (never fails the run)."""
    out: dict[str, Any] = {}
    for name, job in (
        ("pgbench_tpcb", pgbench_tpcb(prefix, profile)),
        ("pgbench_booking_tx", pgbench_booking(prefix, profile)),
        ("redis_benchmark", redis_benchmark(profile)),
        ("rabbitmq_quorum", rabbitmq_quorum(prefix, profile)),
    ):
        try:
            out[name] = await job
        except Exception as exc:
            out[name] = {"error": f"{type(exc).__name__}: {exc}"}
    return out
