"""`boxoffice up --distributed`: check what the system needs, migrate its databases, plan its parts
(one `boxoffice serve NAME` per service, the web site when built, NGINX), and hand them to the
supervisor."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

import typer

from boxoffice import supervisor as sup
from boxoffice.cli.serving import (
    console,
    fail,
    load_settings,
    migrate_service,
    print_table,
    redact,
    run_async,
)
from boxoffice.gateway.render import prepare_run_dir, render_local
from boxoffice.settings import Settings
from boxoffice.topology import GATEWAY_PREFIXES, SERVICE_NAMES


@dataclass(frozen=True)
class Options:
    """`boxoffice up --distributed`'s options."""

    host: str
    port: int
    base_port: int
    workers: int
    only: list[str]
    grace: float
    nginx: str | None
    demo_data: bool | None
    # `boxoffice bench`: the gateway also proxies /gateway/ping to this port (its ping ceiling).
    bench_ping_port: int | None = None


def local_base(host: str, port: int) -> str:
    """Where this machine reaches a server listening on host:port."""
    return f"http://{'127.0.0.1' if host in ('0.0.0.0', '::', '') else host}:{port}"


def api_rows(base: str, direct_ports: dict[str, int] | None = None) -> list[tuple[str, str, str]]:
    """One table row per service: its gateway path and its /docs."""
    rows = []
    for name in SERVICE_NAMES:
        prefix = GATEWAY_PREFIXES[name]
        notes = f"docs {base}/api/{prefix}/docs"
        if direct_ports:
            notes += f" (direct: http://127.0.0.1:{direct_ports[name]}/docs)"
        rows.append((f"{name} API", f"{base}/api/{prefix}/…", notes))
    return rows


def port_in_use(host: str, port: int) -> bool:
    """Whether something already listens on host:port (as uvicorn and NGINX bind: REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


async def check_dependencies(settings: Settings) -> list[str]:
    """Why PostgreSQL, Redis or RabbitMQ cannot be reached (empty when all answer)."""

    async def postgres() -> None:
        from sqlalchemy import text
        from sqlalchemy.ext.asyncio import create_async_engine
        from sqlalchemy.pool import NullPool

        engine = create_async_engine(
            settings.postgres_url, poolclass=NullPool, connect_args={"timeout": 5}
        )
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        finally:
            await engine.dispose()

    async def redis() -> None:
        from redis.asyncio import Redis

        client = Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5)
        try:
            await client.ping()
        finally:
            await client.aclose()

    async def rabbitmq() -> None:
        import aio_pika

        connection = await aio_pika.connect(settings.rabbitmq_url, timeout=5)
        await connection.close()

    checks = {
        f"PostgreSQL unreachable at {redact(settings.postgres_url)}": postgres(),
        f"Redis unreachable at {redact(settings.redis_url)}": redis(),
        f"RabbitMQ unreachable at {redact(settings.rabbitmq_url)}": rabbitmq(),
    }
    results = await asyncio.gather(
        *(asyncio.wait_for(c, timeout=10) for c in checks.values()), return_exceptions=True
    )
    problems = []
    for what, result in zip(checks, results, strict=True):
        if isinstance(result, BaseException):
            reason = str(result).strip() or type(result).__name__
            problems.append(f"{what}: {type(result).__name__}: {reason.splitlines()[0]}")
    return problems


def nginx_binary(explicit: str | None) -> str:
    candidates = [explicit] if explicit else [shutil.which("nginx"), "/usr/sbin/nginx"]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK) and not os.path.isdir(candidate):
            return candidate
    where = f" at {explicit}" if explicit else ""
    fail(
        f"nginx not installed{where}: distributed mode's gateway is NGINX "
        "(Debian: apt-get install nginx-light)"
    )


def boxoffice_argv() -> list[str]:
    """How to run the `boxoffice` command with this interpreter."""
    script = Path(sys.executable).with_name("boxoffice")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from boxoffice.cli import app; app(prog_name='boxoffice')"]


# Connections of the PostgreSQL server left for everything else (tests, operators, tools).
SPARE_CONNECTIONS = 20
MAX_POOL_SIZE = 10


async def postgres_connection_limit(settings: Settings) -> int | None:
    """How many connections the PostgreSQL server takes from ordinary users (None: unknown)."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    engine = create_async_engine(
        settings.postgres_url, poolclass=NullPool, connect_args={"timeout": 5}
    )
    try:
        async with engine.connect() as conn:
            total = int(await conn.scalar(text("SHOW max_connections")) or 0)
            reserved = int(await conn.scalar(text("SHOW superuser_reserved_connections")) or 0)
    except Exception:
        return None
    finally:
        await engine.dispose()
    return total - reserved


def pool_size_for(limit: int | None, processes: int) -> int:
    """Database connections per process so that every process fits the server at once.

    A pool that is too small makes a rush queue for connections; one that overflows makes it
    open and close connections under load (each a new PostgreSQL backend), or fail."""
    if limit is None:
        return 5
    return max(2, min(MAX_POOL_SIZE, (limit - SPARE_CONNECTIONS) // max(processes, 1)))


def child_env(settings: Settings, opts: Options, ports: dict[str, int]) -> dict[str, str]:
    """The children's environment: ours, in distributed mode, finding each other on `ports`."""
    env = dict(os.environ, BOXOFFICE_MODE="distributed", PYTHONUNBUFFERED="1")
    if not settings.secret_key:
        env["SECRET_KEY"] = secrets.token_urlsafe(48)
        console.print(
            "[yellow]note:[/] SECRET_KEY is not set: generated one for this run, shared by "
            "every service (tokens stop working when the system restarts; set SECRET_KEY to "
            "keep them)"
        )
    if opts.demo_data is not None:
        env["BOXOFFICE_DEMO_DATA"] = "1" if opts.demo_data else "0"
    for name in SERVICE_NAMES:
        env[f"{name.upper()}_SERVICE_URL"] = f"http://127.0.0.1:{ports[name]}"
    # The web site reaches the services the way a browser would: through the gateway.
    env["GATEWAY_URL"] = local_base(opts.host, opts.port)
    if settings.log_json == "auto":
        # The children write into the supervisor's pipe, which copies their lines to our
        # stdout: they log as they would there (readable at a terminal, JSON otherwise).
        env["LOG_JSON"] = "false" if sys.stdout.isatty() else "true"
    return env


def up_distributed(opts: Options) -> None:
    settings = load_settings("distributed")
    nginx = nginx_binary(opts.nginx)
    names = opts.only or list(SERVICE_NAMES)
    unknown = sorted(set(names) - set(SERVICE_NAMES))
    if unknown:
        fail(f"unknown service(s) {', '.join(unknown)}; one of {', '.join(SERVICE_NAMES)}")
    from boxoffice.embedded import web_app_factory

    with_web = not opts.only and web_app_factory() is not None
    # auth 8001 … notification 8005, web 8006 by default.
    ports = {name: opts.base_port + i for i, name in enumerate((*SERVICE_NAMES, "web"))}
    wanted = [*names, *(["web"] if with_web else [])]
    for name in wanted:
        if port_in_use("127.0.0.1", ports[name]):
            fail(f"{name}: port {ports[name]} is in use (choose other ports with --base-port)")
    if port_in_use(opts.host, opts.port):
        fail(f"gateway: port {opts.port} on {opts.host} is in use (choose another with --port)")
    problems = run_async(check_dependencies(settings))
    if problems:
        fail("cannot start the distributed system:\n  " + "\n  ".join(problems))
    # Each database migrated once, here, before any process of its service starts: those only
    # check it (`boxoffice serve`), so workers and restarts never migrate, as in a deployment.
    for name in names:
        run_async(migrate_service(name, settings))
    console.print(f"migrated the databases of {', '.join(names)}")

    env = child_env(settings, opts, ports)
    if "DB_POOL_SIZE" not in os.environ:
        limit = run_async(postgres_connection_limit(settings))
        env["DB_POOL_SIZE"] = str(pool_size_for(limit, len(names) * opts.workers))
        env.setdefault("DB_MAX_OVERFLOW", "0")
    run_dir = (settings.data_dir / "run").resolve()
    prepare_run_dir(run_dir)
    conf = run_dir / "nginx.conf"
    conf.write_text(
        render_local(
            settings,
            run_dir,
            host=opts.host,
            port=opts.port,
            ports=ports,
            bench_ping_port=opts.bench_ping_port,
        )
    )
    serve = [*boxoffice_argv(), "serve"]
    parts = [
        sup.Part(
            name=name,
            argv=[
                *serve,
                name,
                "--host",
                "127.0.0.1",
                "--port",
                str(ports[name]),
                "--workers",
                str(opts.workers),
            ],
            port=ports[name],
            health_url=f"http://127.0.0.1:{ports[name]}/health/ready",
            env=env,
        )
        for name in wanted
    ]
    base = local_base(opts.host, opts.port)
    parts.append(
        sup.Part(
            name="gateway",
            argv=[nginx, "-p", str(run_dir), "-c", str(conf), "-e", "stderr", "-g", "daemon off;"],
            port=opts.port,
            health_url=f"{base}/gateway/health",
            env=env,
            stop_signal=signal.SIGQUIT,
            stage=1,
        )
    )

    def ready(running: sup.Supervisor) -> None:
        rows = [("site", f"{base}/", "the web site" if with_web else "not built yet (502)")]
        rows += api_rows(base, ports)
        for part in running.parts:
            workers = "" if part.name == "gateway" else f", {opts.workers} worker(s)"
            rows.append((part.name, f"127.0.0.1:{part.port}", f"pid {part.pid}{workers}"))
        rows += [
            ("PostgreSQL", redact(settings.postgres_url), f"prefix {settings.db_prefix!r}"),
            ("Redis", redact(settings.redis_url), ""),
            ("RabbitMQ", redact(settings.rabbitmq_url), ""),
            ("run dir", str(run_dir), "nginx.conf, state.json, logs/"),
            (
                "database pools",
                f"{env.get('DB_POOL_SIZE')} connections a process",
                f"{len(names)} services x {opts.workers} worker(s); DB_POOL_SIZE to choose",
            ),
            ("admin login", settings.admin_email or "not configured", "BOXOFFICE_ADMIN_EMAIL"),
        ]
        print_table("boxoffice is running (distributed; Ctrl-C or SIGTERM stops it)", rows)

    supervisor = sup.Supervisor(parts, run_dir, grace_seconds=opts.grace, on_ready=ready)
    raise typer.Exit(sup.run_supervisor(supervisor))
