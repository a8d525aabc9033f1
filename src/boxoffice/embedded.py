"""Embedded mode: all five services (and the web site, once it exists) in one ASGI app on one
port, under the gateway's paths (`/api/<prefix>/...`), sharing one in-process runtime.

With `gateway=True` (what `boxoffice up` serves) the app also does what NGINX does in distributed
mode: per-client rate limits, the 1 MB body limit and the web site at `/`. The service tests leave
it off, as they reach the services without NGINX in distributed mode too.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import re
from collections.abc import AsyncIterator, Callable, Sequence

import httpx
from fastapi import FastAPI
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from boxoffice.core.app import create_service_app
from boxoffice.core.errors import error_body, install_error_handlers
from boxoffice.core.headers import SecurityHeadersMiddleware
from boxoffice.core.observability import metrics_endpoint
from boxoffice.core.ratelimit import RateLimitMiddleware, send_json, site_proof
from boxoffice.core.runtime import Runtime, memory_runtime
from boxoffice.services import all_definitions
from boxoffice.settings import Settings
from boxoffice.topology import BOOKING_LIMITED_ROUTES, GATEWAY_PREFIXES


class _GatewayAliases:
    """What NGINX does besides prefix routing (nginx.conf.j2): a trailing slash on an API path
    is ignored, and `GET /api/movies` lists movies (design example)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/api/"):
            path = scope["path"].rstrip("/")
            # The raw path keeps its percent-escapes (an id with %0A must stay one).
            raw_path = (scope.get("raw_path") or path.encode()).rstrip(b"/")
            if path == "/api/movies":
                path, raw_path = "/api/movies/movies", b"/api/movies/movies"
            if path not in (scope["path"], "/api"):
                scope = dict(scope, path=path, raw_path=raw_path)
        await self.app(scope, receive, send)


MAX_BODY_BYTES = 1024 * 1024  # NGINX's client_max_body_size 1m


class _BodySizeLimit:
    """413 in the error shape for a body over 1 MB, declared or streamed."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await self._refuse(send)
                return
        received = 0
        too_large = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                # The app sees the client go away; the client gets the 413 below.
                too_large = True
                return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if too_large and not started:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not too_large:
                raise
        if too_large and not started:
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = error_body(413, "PayloadTooLarge", f"Request body over {self.limit} bytes")
        await send_json(send, 413, body, [])


def web_app_factory() -> Callable[[Settings], ASGIApp] | None:
    """The web site's `create_app(settings)` (module `boxoffice.web.app`), if it is built yet."""
    if importlib.util.find_spec("boxoffice.web.app") is None:
        return None
    factory = getattr(importlib.import_module("boxoffice.web.app"), "create_app", None)
    return factory if callable(factory) else None


def create_embedded_app(
    settings: Settings,
    runtime: Runtime | None = None,
    services: Sequence[str] | None = None,
    *,
    gateway: bool = False,
) -> FastAPI:
    """The whole system as one app; service sub-apps are mounted at their gateway prefixes.

    `gateway=True` adds what NGINX adds in distributed mode (rate limits, body limit, web site).
    """
    runtime = runtime or memory_runtime(settings)
    apps = {}
    for defn in all_definitions():
        if services is not None and defn.name not in services:
            continue
        # No /metrics under /api/<prefix>: the gateway is public, the metrics are Prometheus's
        # (metrics_app, on its own local port; one registry serves all five services anyway).
        service_app = create_service_app(defn, runtime, serve_metrics=False)
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
    web = web_app_factory() if gateway else None
    if web is not None:
        site = web(settings)
        gateway_client = getattr(getattr(site, "state", None), "gateway", None)
        if gateway_client is not None:
            # The site reaches the API in-process, through this very app (rate limits included).
            gateway_client.use_transport(httpx.ASGITransport(app=root))
        root.mount("/", site)
    root.add_middleware(_GatewayAliases)
    if gateway:
        root.add_middleware(_BodySizeLimit)
        root.add_middleware(
            RateLimitMiddleware,
            general=settings.rate_limit_general,
            strict=settings.rate_limit_booking,
            strict_routes=BOOKING_LIMITED_ROUTES,
            # The web site's own calls prove it and skip the general limit (ratelimit.py).
            site_proof=lambda: site_proof(settings.signing_key),
        )
    # Outermost, so the gateway's own refusals (429, 413) carry the headers too.
    root.add_middleware(SecurityHeadersMiddleware)
    return root


def metrics_app() -> FastAPI:
    """Prometheus's listener in embedded mode (METRICS_PORT, on 127.0.0.1): GET /metrics, the
    process's one registry, which all five services report into (told apart by `service`)."""
    app = FastAPI(title="boxoffice metrics", docs_url=None, redoc_url=None, openapi_url=None)
    install_error_handlers(app)  # any other path: a 404 in the design's error shape
    app.add_api_route("/metrics", metrics_endpoint, methods=["GET"], include_in_schema=False)
    return app
