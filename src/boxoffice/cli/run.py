"""`boxoffice up` (embedded: one process), `boxoffice up --distributed` (a supervisor, one process
per service, NGINX as the gateway), `boxoffice serve NAME` (one service: what a container runs),
`boxoffice migrate [NAME]`, `boxoffice demo-data` and `boxoffice gateway-config`."""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from boxoffice.cli.distributed import Options, api_rows, local_base, up_distributed
from boxoffice.cli.serving import (
    SERVE_ENV,
    bind,
    configure_logs,
    console,
    fail,
    load_settings,
    migrate_service,
    print_table,
    redact,
    require_migrated,
    run_async,
    serve_app,
    serve_forever,
    wait_until_migrated,
)
from boxoffice.core.keys import SigningKeyError
from boxoffice.core.runtime import Runtime, memory_runtime
from boxoffice.gateway.render import WEB_PORT, render_compose, render_local
from boxoffice.settings import Settings
from boxoffice.topology import SERVICE_NAMES, SERVICE_PORTS

# The admin embedded mode creates when BOXOFFICE_ADMIN_EMAIL is not set (its password is made
# at first start and printed once; BOXOFFICE_ADMIN_PASSWORD sets one instead).
DEFAULT_ADMIN_EMAIL = "admin@boxoffice.local"
# Where embedded mode serves /metrics (on METRICS_PORT): never on the public address.
METRICS_HOST = "127.0.0.1"


def with_default_admin(settings: Settings) -> Settings:
    """Embedded mode's admin: the configured e-mail, else the default one."""
    if settings.admin_email:
        return settings
    return settings.model_copy(update={"admin_email": DEFAULT_ADMIN_EMAIL})


def admin_rows(settings: Settings, runtime: Runtime) -> list[tuple[str, str, str]]:
    """How to sign in as the admin; a generated password is shown this once, then forgotten."""
    from boxoffice.auth.bootstrap import GENERATED_ADMIN

    email = str(settings.admin_email)
    generated = runtime.extras.pop(GENERATED_ADMIN, None)
    if generated is not None:
        return [
            ("admin login", generated[0], "the admin, made at this first start"),
            (
                "admin password",
                generated[1],
                "made at random and shown only now: keep it (BOXOFFICE_ADMIN_PASSWORD and a "
                "restart set another)",
            ),
        ]
    if settings.admin_password:
        return [("admin login", email, "password: BOXOFFICE_ADMIN_PASSWORD")]
    return [
        (
            "admin login",
            email,
            "password: the one printed at first start (BOXOFFICE_ADMIN_PASSWORD and a restart "
            "set another)",
        )
    ]


def up_embedded(host: str, port: int, demo_data: bool | None) -> None:
    settings = load_settings("embedded")
    if demo_data is not None:
        settings = settings.model_copy(update={"demo_data": demo_data})
    settings = with_default_admin(settings)
    configure_logs(settings)
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        # Made (first start) or read now, so a data dir it cannot use stops the start, not logins.
        settings.signing_key  # noqa: B018
    except (OSError, SigningKeyError) as exc:
        fail(f"boxoffice up: {exc}")
    from boxoffice.embedded import create_embedded_app, metrics_app

    sock = bind(host, port, "boxoffice up")
    # Prometheus's listener: local only, as the public port serves no metrics (issue 11).
    metrics_port = settings.metrics_port
    side = None
    if metrics_port:
        side = (metrics_app(), bind(METRICS_HOST, metrics_port, "boxoffice up: METRICS_PORT"))
    runtime = memory_runtime(settings)
    app = create_embedded_app(settings, runtime, gateway=True)
    base = local_base(host, port)

    def ready() -> None:
        rows = [("site", f"{base}/", "the web site (when built)")]
        rows += api_rows(base)
        rows += [
            ("data", str(settings.data_dir.resolve()), "SQLite databases, e-mail outbox"),
            *admin_rows(settings, runtime),
            ("demo data", "on" if settings.demo_data_enabled else "off", "BOXOFFICE_DEMO_DATA"),
            ("rate limits", settings.rate_limit_general, f"booking {settings.rate_limit_booking}"),
            (
                "metrics",
                f"http://{METRICS_HOST}:{metrics_port}/metrics" if metrics_port else "off",
                "for Prometheus, this machine only (METRICS_PORT; 0: off)",
            ),
        ]
        print_table("boxoffice is running (embedded: one process; Ctrl-C stops it)", rows)

    if not run_async(serve_forever(app, sock, ready, side=side)):
        fail("boxoffice up: the system failed to start (see the log above)", code=3)


def default_workers() -> int:
    """One worker per core this process may run on: a service's Python is CPU-bound."""
    return max(1, len(os.sched_getaffinity(0)))


def register(app: typer.Typer) -> None:
    @app.command()
    def up(
        distributed: Annotated[
            bool,
            typer.Option("--distributed", help="One process per service, NGINX as the gateway"),
        ] = False,
        host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
        port: Annotated[
            int | None, typer.Option(help="Public port (default 8000; distributed 8080)")
        ] = None,
        base_port: Annotated[
            int, typer.Option(help="Distributed: first service port (auth; then movie, …)")
        ] = SERVICE_PORTS["auth"],
        workers: Annotated[
            int | None,
            typer.Option(
                min=1, help="Distributed: uvicorn workers per service (default: one per core)"
            ),
        ] = None,
        only: Annotated[
            str, typer.Option(help="Distributed: run only these services (comma-separated)")
        ] = "",
        grace: Annotated[
            float, typer.Option(help="Distributed: seconds between SIGTERM and SIGKILL")
        ] = 10.0,
        nginx: Annotated[
            str | None, typer.Option(help="Distributed: the nginx binary (default: on PATH)")
        ] = None,
        demo_data: Annotated[
            bool | None,
            typer.Option(
                "--demo-data/--no-demo-data",
                help="Load the demo catalog (default: BOXOFFICE_DEMO_DATA; on when embedded)",
            ),
        ] = None,
        bench_ping_port: Annotated[
            int | None,
            typer.Option(hidden=True, help="boxoffice bench: proxy /gateway/ping to this port"),
        ] = None,
    ) -> None:
        """Run the whole system: embedded (one process, SQLite) or --distributed."""
        if distributed:
            chosen = [n.strip() for n in only.split(",") if n.strip()]
            up_distributed(
                Options(
                    host,
                    port or 8080,
                    base_port,
                    workers or default_workers(),
                    chosen,
                    grace,
                    nginx,
                    demo_data,
                    bench_ping_port,
                )
            )
            return
        if workers not in (None, 1):
            fail(
                "embedded mode runs in one process: its in-process adapters (cache, seat holds, "
                "event bus) cannot be shared between workers. Use --distributed for more workers."
            )
        up_embedded(host, port or 8000, demo_data)

    @app.command()
    def serve(
        name: Annotated[
            str, typer.Argument(help="auth, movie, booking, payment, notification, web")
        ],
        host: Annotated[str, typer.Option(help="Address to listen on")] = "0.0.0.0",
        port: Annotated[int | None, typer.Option(help="Port (default: the service's)")] = None,
        workers: Annotated[int, typer.Option(min=1, help="uvicorn worker processes")] = 1,
        migrate_first: Annotated[
            bool,
            typer.Option(
                "--migrate",
                help="Migrate the database first (development; a deployment runs "
                "`boxoffice migrate NAME` once instead)",
            ),
        ] = False,
    ) -> None:
        """Run one service on the distributed adapters (what a container runs); its database
        must have been migrated (`boxoffice migrate NAME`)."""
        if name not in (*SERVICE_NAMES, "web"):
            fail(f"unknown service {name!r}; one of {', '.join((*SERVICE_NAMES, 'web'))}")
        os.environ["BOXOFFICE_MODE"] = "distributed"
        settings = load_settings("distributed")
        if not settings.secret_key:
            fail("SECRET_KEY must be set in distributed mode (the JWT signing key)")
        configure_logs(settings)
        port = port or SERVICE_PORTS.get(name, WEB_PORT)
        sock = bind(host, port, name)
        # Migrating is a deployment's step, run once (`boxoffice migrate`, the compose service,
        # the Kubernetes job), not every replica's: a replica checks that it was done.
        if name != "web":
            run_async((migrate_service if migrate_first else require_migrated)(name, settings))
        os.environ[SERVE_ENV] = name
        if not serve_app("boxoffice.cli.serving:service_app_factory", sock, workers=workers):
            fail(f"{name}: failed to start (see the log above)", code=3)

    @app.command()
    def migrate(
        name: Annotated[str | None, typer.Argument(help="One service (default: all)")] = None,
        check: Annotated[
            bool,
            typer.Option(
                "--check",
                help="Migrate nothing: exit 1 unless each database has this version's schema",
            ),
        ] = False,
        wait: Annotated[
            float,
            typer.Option(
                min=0,
                help="With --check: keep asking for up to this many seconds (an init container "
                "waiting for the migration job)",
            ),
        ] = 0,
    ) -> None:
        """Create (if missing) and migrate the services' databases in the configured mode."""
        settings = load_settings()
        if wait and not check:
            fail("--wait goes with --check (migrating does not wait)")
        if name is None and settings.database_url:
            # Every service would get that one database (and its alembic_version table).
            fail("DATABASE_URL is one service's database: name it (boxoffice migrate NAME)")
        names = [name] if name else list(SERVICE_NAMES)
        for service in names:
            if service not in SERVICE_NAMES:
                fail(f"unknown service {service!r}; one of {', '.join(SERVICE_NAMES)}")
            url = redact(settings.database_url_for(service))
            if not check:
                run_async(migrate_service(service, settings))
                console.print(f"{service}: migrated ({url})")
                continue
            problem = run_async(wait_until_migrated(service, settings, wait))
            if problem is not None:
                waited = f" after {wait:g} s" if wait else ""
                fail(f"{service}: its database at {url} {problem}{waited}")
            console.print(f"{service}: up to date ({url})")

    @app.command(name="demo-data")
    def demo_data() -> None:
        """Load the demo catalog (movies, theaters, showtimes); loading twice changes nothing."""
        settings = load_settings()
        try:
            from boxoffice.movie.demo import load_demo_data
        except ImportError as exc:
            fail(f"the demo catalog is not available: {exc}")
        run_async(migrate_service("movie", settings))
        run_async(_with_movie_context(settings, load_demo_data))
        console.print("demo catalog loaded")

    @app.command(name="gateway-config")
    def gateway_config(
        target: Annotated[
            str, typer.Option(help="compose (upstreams by service name) or local")
        ] = "compose",
        output: Annotated[Path | None, typer.Option(help="Write here (default: stdout)")] = None,
        port: Annotated[
            int | None, typer.Option(help="Listen port (compose 80, local 8080)")
        ] = None,
    ) -> None:
        """Render the NGINX gateway config (e.g. deploy/nginx/nginx.conf for compose)."""
        settings = load_settings("distributed")
        if target == "compose":
            text = render_compose(settings, port=port or 80)
        elif target == "local":
            run_dir = (settings.data_dir / "run").resolve()
            text = render_local(settings, run_dir, port=port or 8080)
        else:
            fail(f"unknown target {target!r}; compose or local")
        if output is None:
            sys.stdout.write(text)
        else:
            output.write_text(text)


async def _with_movie_context(settings: Settings, work: Callable[[Any], Awaitable[Any]]) -> None:
    """Run `work(ctx)` with the movie service's context (its database and runtime)."""
    from boxoffice.core.app import ServiceContext
    from boxoffice.core.db import Database
    from boxoffice.core.runtime import build_runtime

    runtime = build_runtime(settings)
    db = Database(settings.database_url_for("movie"))
    try:
        await work(ServiceContext(name="movie", runtime=runtime, db=db))
    finally:
        await db.dispose()
        await runtime.aclose()
