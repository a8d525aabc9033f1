"""Embedded mode: all five services (and later the web site) in one ASGI app on one port,
under the gateway's paths (`/api/<prefix>/...`), sharing one in-process runtime."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Sequence

import httpx
from fastapi import FastAPI
from starlette.routing import Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from boxoffice.core.app import create_service_app
from boxoffice.core.errors import install_error_handlers
from boxoffice.core.runtime import Runtime, memory_runtime
from boxoffice.core.settings import GATEWAY_PREFIXES, Settings
from boxoffice.services import all_definitions


class _GatewayAliases:
    """What NGINX does besides prefix routing: `GET /api/movies` lists movies (design example)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].rstrip("/") == "/api/movies":
            scope = dict(scope, path="/api/movies/movies", raw_path=b"/api/movies/movies")
        await self.app(scope, receive, send)


def create_embedded_app(
    settings: Settings, runtime: Runtime | None = None, services: Sequence[str] | None = None
) -> FastAPI:
    """The whole system as one app; service sub-apps are mounted at their gateway prefixes."""
    runtime = runtime or memory_runtime(settings)
    apps = {}
    for defn in all_definitions():
        if services is not None and defn.name not in services:
            continue
        service_app = create_service_app(defn, runtime)
        apps[defn.name] = service_app
        # Calls between services stay in-process but still go through HTTP semantics
        # (timeouts, breaker, status codes), exactly as in distributed mode.
        runtime.transports[defn.name] = httpx.ASGITransport(app=service_app)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            # Mounted apps' lifespans are not run by Starlette: enter each one here.
            for service_app in apps.values():
                await stack.enter_async_context(service_app.router.lifespan_context(service_app))
            try:
                yield
            finally:
                await runtime.aclose()

    root = FastAPI(
        title="boxoffice (embedded)",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    root.state.runtime = runtime
    root.state.service_apps = apps
    # Paths outside every service (e.g. /api/nope) still answer in the design's error shape.
    install_error_handlers(root)
    for name, service_app in apps.items():
        root.mount(f"/api/{GATEWAY_PREFIXES[name]}", service_app)
    for route in root.routes:
        if isinstance(route, Mount):
            # Starlette's mount pattern (".*") stops at a newline, so an id holding an encoded
            # %0A would 404 here instead of reaching its service (a 400 there, and through NGINX).
            route.path_regex = re.compile(route.path_regex.pattern, re.DOTALL)
    root.add_middleware(_GatewayAliases)
    return root
