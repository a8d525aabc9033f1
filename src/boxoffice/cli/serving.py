"""What the run commands share: settings loading, clear failures, uvicorn on uvloop (one
definition of how every server runs, which the benchmark's ping server uses too), and one
service's app as `boxoffice serve NAME` runs it."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import re
import socket
import sys
import time
from collections.abc import Callable, Coroutine, Iterator
from types import FrameType
from typing import Any, Literal, NoReturn
from urllib.parse import urlsplit, urlunsplit

import typer
import uvicorn
import uvloop
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from rich.text import Text
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.importer import import_from_string

from boxoffice.core.ratelimit import RateLimit
from boxoffice.settings import Settings, get_settings

# How `boxoffice serve` tells uvicorn's worker processes (--workers > 1) their service.
SERVE_ENV = "BOXOFFICE_SERVE_SERVICE"
_PREFIX = re.compile(r"/[A-Za-z0-9_\-/]{0,100}")

# How every boxoffice server runs under uvicorn (besides uvloop): the services, the embedded app
# and the benchmark's bare ping app, so a ceiling measured on one cannot drift from the others.
WORKER_HEALTHCHECK_SECONDS = 60
UVICORN_OPTIONS: dict[str, Any] = {
    "http": "httptools",
    "access_log": False,
    "timeout_graceful_shutdown": 10,
    # Longer than NGINX keeps an idle upstream connection (60 s, nginx.conf.j2): with uvicorn's
    # 5 s, NGINX now and then sent a request down a connection uvicorn was closing, and a POST
    # (which NGINX does not retry) became a 502 in the middle of a flash sale.
    "timeout_keep_alive": 75,
}

# The app factory ("module:function") that serve_app's servers build, passed to uvicorn's worker
# processes in the environment (they are spawned, not forked: nothing else reaches them).
APP_FACTORY_ENV = "BOXOFFICE_APP_FACTORY"
# Python's cyclic garbage collector, in a server: a young collection every 20,000 allocations
# instead of 700. A request allocates hundreds of short-lived objects, nearly all freed by
# reference counting, so most collections found little and cost time all the same: 3-6 % of a
# worker's CPU in a flash sale (measured with gc.callbacks). With this, and the objects built at
# startup frozen out of later collections, a sale cost 1-15 % less CPU (median 6 %) in eight
# before/after comparisons, and the largest process was 10 MB smaller (bench/README.md).
GC_THRESHOLDS = (20_000, 20, 50)

# Wide enough for the URLs in the tables when the output is a file or a pipe.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 140)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print a clear error (no traceback) and exit."""
    Console(stderr=True, highlight=False, soft_wrap=True).print(
        Text("error: ", style="bold red") + message
    )
    raise typer.Exit(code)


def load_settings(mode: Literal["embedded", "distributed"] | None = None) -> Settings:
    """The settings from the environment (and .env), in `mode` if given; a clear error if
    invalid."""
    get_settings.cache_clear()
    try:
        settings = get_settings()
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        fail(f"invalid configuration: {problems}")
    for name in ("rate_limit_general", "rate_limit_booking"):
        try:
            RateLimit.parse(getattr(settings, name))
        except (ValueError, KeyError):
            fail(f"invalid configuration: {name.upper()} must look like 60/minute (or /hour)")
    return settings.model_copy(update={"mode": mode}) if mode else settings


def configure_logs(settings: Settings) -> None:
    from boxoffice.core.observability import configure_logging

    configure_logging(settings.log_level, settings.log_json)


def run_async(main: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine on uvloop (plain asyncio adds ~44 ms a request under uvicorn)."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def redact(url: str) -> str:
    """A URL with its password hidden, fit for a log line or an error message."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def print_table(title: str, rows: list[tuple[str, str, str]]) -> None:
    table = Table(title=title, title_justify="left")
    for column in ("what", "where", "notes"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*row)
    console.print(table)


def bind(host: str, port: int, what: str) -> socket.socket:
    """The listening socket, bound here so a busy port is a clear error, not a traceback."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        fail(f"{what}: port {port} on {host} is in use or not available ({exc.strerror})")
    return sock


class _Server(uvicorn.Server):
    """uvicorn's server, calling `on_started` once it listens and its lifespan has started."""

    def __init__(self, config: uvicorn.Config, on_started: Callable[[], None] | None) -> None:
        super().__init__(config)
        self.on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self.on_started:
            self.on_started()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        # uvicorn re-raises the signal once shut down (exit status "killed by SIGTERM"); the
        # shutdown is complete and orderly, so exit 0 instead, as the supervisor does.
        self._captured_signals.clear()


class _SideServer(uvicorn.Server):
    """A second server in the process, stopped by the first: only that one takes the signals
    (two would each restore the other's handlers and re-raise the signal when they stop)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve_forever(
    app: ASGIApp,
    sock: socket.socket,
    on_started: Callable[[], None] | None = None,
    *,
    side: tuple[ASGIApp, socket.socket] | None = None,
) -> bool:
    """Serve `app` on `sock` until SIGINT/SIGTERM; False if it failed to start. `side`, an app
    and its socket (embedded mode's metrics listener), is served alongside, from before the
    main app starts until after it stops."""
    config = uvicorn.Config(app, loop="none", lifespan="on", **UVICORN_OPTIONS)
    server = _Server(config, on_started)
    if side is None:
        await server.serve(sockets=[sock])
        return server.started
    side_app, side_sock = side
    side_server = _SideServer(
        uvicorn.Config(side_app, loop="none", lifespan="off", **UVICORN_OPTIONS)
    )
    side_task = asyncio.create_task(side_server.serve(sockets=[side_sock]))
    try:
        await server.serve(sockets=[sock])
    finally:
        side_server.should_exit = True
        await side_task
    return server.started


def tune_gc() -> None:
    """Once the app is built: what startup made (modules, mappers, routes; most of a process's
    objects, and all of them long-lived) leaves the collector's view, and young collections
    come less often (GC_THRESHOLDS)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def tuned_app_factory() -> ASGIApp:
    """What every server process of serve_app runs: the app of APP_FACTORY_ENV, then tune_gc."""
    app: ASGIApp = import_from_string(os.environ[APP_FACTORY_ENV])()
    tune_gc()
    return app


def serve_app(factory: str, sock: socket.socket, *, workers: int = 1) -> bool:
    """Serve the app that `factory` ("module:function") builds on `sock`, as `boxoffice serve`
    does: uvicorn on uvloop with UVICORN_OPTIONS, in `workers` processes when more than one
    (uvicorn's own supervisor then binds the address again). False if it failed to start."""
    os.environ[APP_FACTORY_ENV] = factory
    if workers == 1:
        return bool(run_async(serve_forever(tuned_app_factory(), sock)))
    host, port = sock.getsockname()[:2]
    sock.close()
    uvicorn.run(
        "boxoffice.cli.serving:tuned_app_factory",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        # uvicorn kills a worker that does not answer its health ping in time; a worker still
        # importing the app when many start at once on a busy machine does not answer, so at
        # uvicorn's 5 s every restart killed every worker again, for good (seen at load 9).
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
        **UVICORN_OPTIONS,
    )
    return True


class ForwardedPrefix:
    """Serve under the gateway's prefix (NGINX sends X-Forwarded-Prefix, e.g. /api/auth), so
    /docs and the OpenAPI point at URLs that work through the gateway."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope.get("headers", []):
                if name == b"x-forwarded-prefix":
                    prefix = value.decode("latin-1").rstrip("/")
                    if prefix and _PREFIX.fullmatch(prefix):
                        # ASGI: `path` includes `root_path`; routing strips it again.
                        scope = dict(
                            scope,
                            root_path=prefix,
                            path=prefix + scope["path"],
                            raw_path=prefix.encode() + scope.get("raw_path", b""),
                        )
                    break
        await self.app(scope, receive, send)


def service_app(name: str, settings: Settings) -> ASGIApp:
    """One service (or the web site) on distributed adapters, on a database migrated before."""
    if name == "web":
        from boxoffice.embedded import web_app_factory

        factory = web_app_factory()
        if factory is None:
            fail("the web site is not built yet (no boxoffice.web.app.create_app)")
        return factory(settings)
    from boxoffice.core.app import create_service_app
    from boxoffice.core.runtime import build_runtime
    from boxoffice.services import definition

    return ForwardedPrefix(
        create_service_app(definition(name), build_runtime(settings), run_migrations=False)
    )


def service_app_factory() -> ASGIApp:
    """uvicorn's factory in each worker process of `boxoffice serve NAME --workers N`."""
    settings = load_settings("distributed")
    configure_logs(settings)
    return service_app(os.environ[SERVE_ENV], settings)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


async def migrate_service(name: str, settings: Settings) -> None:
    """Create the service's database if missing and migrate it; a clear error if that fails."""
    from boxoffice.core.migrations import migrate
    from boxoffice.services import definition

    url = settings.database_url_for(name)
    try:
        await asyncio.wait_for(migrate(definition(name).package, url), timeout=120)
    except Exception as exc:
        fail(f"{name}: cannot migrate its database at {redact(url)}: {_reason(exc)}")


async def wait_until_migrated(name: str, settings: Settings, seconds: float = 0) -> str | None:
    """Ask the service's database until it has this version's schema, for up to `seconds`:
    None once it has, else what is wrong (e.g. "is not migrated yet")."""
    from boxoffice.core.migrations import pending
    from boxoffice.services import definition

    package, url = definition(name).package, settings.database_url_for(name)
    deadline = time.monotonic() + seconds
    while True:
        try:
            lag = await asyncio.wait_for(pending(package, url), timeout=30)
            problem = None if lag is None else f"is {lag}"
        except Exception as exc:
            problem = f"cannot be reached ({_reason(exc)})"
        left = deadline - time.monotonic()
        if problem is None or left <= 0:
            return problem
        await asyncio.sleep(min(2.0, left))


async def require_migrated(name: str, settings: Settings) -> None:
    """Refuse to serve a database that this version's migrations have not reached."""
    problem = await wait_until_migrated(name, settings)
    if problem is not None:
        url = redact(settings.database_url_for(name))
        fail(
            f"{name}: its database at {url} {problem}; migrate it first "
            f"(`boxoffice migrate {name}`, or `boxoffice serve {name} --migrate`)"
        )
