"""The app factory: one call gives a service its database, errors, auth, health, metrics,
logging, CORS and background tasks (the "service defaults" of eShop)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.db import Database
from boxoffice.core.docs import install_docs
from boxoffice.core.errors import ErrorResponse, install_error_handlers
from boxoffice.core.health import DATABASE_TIMEOUT_SECONDS, Check, health_router
from boxoffice.core.migrations import migrate
from boxoffice.core.observability import ObservabilityMiddleware
from boxoffice.core.runtime import Runtime

log = structlog.get_logger("boxoffice.app")


@dataclass
class ServiceContext:
    """One service's place in a process: its name, database and the shared runtime."""

    name: str
    runtime: Runtime
    db: Database
    state: dict[str, Any] = field(default_factory=dict)
    # What /health/ready asks, by name: the app factory adds the database (and Redis when the
    # runtime has it), the events wiring adds the broker of a service that uses one.
    checks: dict[str, Check] = field(default_factory=dict)

    @property
    def settings(self) -> Any:
        return self.runtime.settings


Hook = Callable[[ServiceContext], Awaitable[None]]


@dataclass
class ServiceDefinition:
    """What a service declares in its app.py; `create_service_app` does the rest."""

    name: str
    package: str
    title: str
    description: str
    routers: Sequence[APIRouter]
    # Run once at start, after migrations (seed an admin, load demo data, declare topology).
    startup: Sequence[Hook] = ()
    # Long-running loops started after every startup hook (relay, consumers, sweepers).
    background: Sequence[Hook] = ()
    shutdown: Sequence[Hook] = ()
    # Called with the FastAPI app for anything else (extra middleware, exception handlers).
    configure: Callable[[FastAPI], None] | None = None


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    async for session in request.app.state.ctx.db.session():
        yield session


# The request's session; it commits once when the route returns (before the response is sent,
# so a failed commit is the caller's error, not a silent loss), or rolls back on any error.
DbSession = Annotated[AsyncSession, Depends(_session, scope="function")]


# Every dependency is `async def`: FastAPI runs a plain `def` one in a thread pool, a thread
# hand-off per request (measured: the seat map spent more there than in its own work).
async def get_context(request: Request) -> ServiceContext:
    return request.app.state.ctx  # type: ignore[no-any-return]


Context = Annotated[ServiceContext, Depends(get_context)]


def create_service_app(
    defn: ServiceDefinition,
    runtime: Runtime,
    *,
    database_url: str | None = None,
    run_migrations: bool = True,
    run_background: bool = True,
    serve_metrics: bool = True,
) -> FastAPI:
    """Build a service's FastAPI app on a runtime; the lifespan migrates, seeds and starts loops.

    `serve_metrics=False` leaves out /metrics (embedded mode serves it on a listener of its own).
    """
    settings = runtime.settings
    db = Database(
        database_url or settings.database_url_for(defn.name),
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
    )
    ctx = ServiceContext(name=defn.name, runtime=runtime, db=db)
    ctx.checks["database"] = Check("database", db.ping, timeout=DATABASE_TIMEOUT_SECONDS)
    if runtime.redis is not None:
        ctx.checks["redis"] = Check("redis", runtime.redis.ping, required=False)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if run_migrations:
            try:
                await migrate(defn.package, db.url)
            except Exception as exc:
                log.error("migration_failed", service=defn.name, error=repr(exc))
                raise RuntimeError(f"{defn.name}: database migration failed: {exc}") from exc
        for hook in defn.startup:
            await hook(ctx)
        tasks: list[asyncio.Task[None]] = []
        if run_background:
            for loop in defn.background:
                tasks.append(asyncio.create_task(_supervised(defn.name, loop, ctx)))
        ctx.state["tasks"] = tasks
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            if tasks:
                # Bounded: a loop cancelled inside a driver call must not hold shutdown forever.
                _, stuck = await asyncio.wait(tasks, timeout=10)
                for task in stuck:
                    log.warning(
                        "background_task_did_not_stop", service=defn.name, task=task.get_name()
                    )
            for hook in defn.shutdown:
                with contextlib.suppress(Exception):
                    await hook(ctx)
            try:
                # A connection left mid-query by a cancelled loop can block its close: bounded.
                await asyncio.wait_for(db.dispose(), timeout=10)
            except TimeoutError:
                log.warning("database_dispose_timed_out", service=defn.name)

    app = FastAPI(
        title=f"boxoffice {defn.title}",
        description=defn.description,
        version="0.1.0",
        lifespan=lifespan,
        # Swagger UI from the project's own files (core/docs.py), so the docs work offline.
        docs_url=None,
        redoc_url=None,
        responses={
            400: {"model": ErrorResponse, "description": "Invalid input"},
            500: {"model": ErrorResponse, "description": "Internal error"},
        },
    )
    app.state.ctx = ctx
    app.state.runtime = runtime
    install_error_handlers(app)
    install_docs(app)
    app.include_router(health_router(defn.name, metrics=serve_metrics))
    for router in defn.routers:
        app.include_router(router)
    if defn.configure:
        defn.configure(app)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origin_list,
        allow_credentials=True,
        allow_methods=["GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"],
        allow_headers=["Authorization", "Content-Type", "X-Correlation-ID", "Idempotency-Key"],
    )
    app.add_middleware(
        ObservabilityMiddleware, service=defn.name, access_log_sample=settings.access_log_sample
    )
    return app


async def _supervised(name: str, loop: Hook, ctx: ServiceContext) -> None:
    """Keep a background loop running: log and restart it (with backoff) if it crashes."""
    delay = 0.5
    while True:
        try:
            await loop(ctx)
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error(
                "background_task_crashed",
                service=name,
                task=loop.__name__,
                error=repr(exc),
                retry_in=delay,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30)
