"""The web site: server-rendered pages (FastAPI + Jinja2) over the gateway API.

It plays the role Laravel plays in the design and, like it, knows the services only through
`/api/...`: in distributed mode through NGINX, in embedded mode in-process.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from fastapi import Depends, FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from boxoffice.core.observability import ObservabilityMiddleware
from boxoffice.core.ratelimit import VisitorLimit, client_address, site_proof
from boxoffice.core.settings import CoreSettings
from boxoffice.web.errors import install_page_errors
from boxoffice.web.gateway import ApiError, Gateway, visitor_address
from boxoffice.web.routes import router
from boxoffice.web.session import SessionMiddleware, SessionSigner, check_csrf

STATIC = Path(__file__).parent / "static"


class _RememberVisitor:
    """Note who the visitor is, so the API calls made for them carry their address."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = visitor_address.set(client_address(scope))
        try:
            await self.app(scope, receive, send)
        finally:
            visitor_address.reset(token)


# Paths that cost no API call and are no page view: the visitor's limit leaves them alone.
_FREE_PATHS = ("/static/", "/health")


async def spend_visit(request: Request) -> None:
    """Count a page view, or an in-page action, against the visitor's own limit: the site's API
    calls do not count against the API's general limit (core/ratelimit.py says why)."""
    if request.url.path.startswith(_FREE_PATHS):
        return
    # Fetches, images and polls made from a page say so (Sec-Fetch-Mode); claiming to be one
    # only moves a client to the other, also limited, budget.
    in_page = request.headers.get("sec-fetch-mode", "navigate") != "navigate"
    visitor = visitor_address.get() or client_address(request.scope)
    wait = request.app.state.visits.spend(visitor, in_page=in_page)
    if wait > 0:
        raise ApiError(
            429,
            f"Too many requests in a short time. Wait {max(1, round(wait))} s and try again.",
            error_type="RateLimitError",
        )


def create_web_app(
    settings: CoreSettings, transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    """The site; `transport` reaches the API in-process (embedded), else `settings.gateway_url`."""
    gateway = Gateway(
        settings.gateway_url, transport, proof=lambda: site_proof(settings.signing_key)
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await gateway.aclose()

    app = FastAPI(
        title="boxoffice web",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        # Every route of the site: an unsafe request needs the visitor's CSRF token and, when
        # the browser names one, our own origin (session.py).
        # Each visitor's own rate limit comes first.
        dependencies=[Depends(spend_visit), Depends(check_csrf)],
    )
    app.state.gateway = gateway
    app.state.visits = VisitorLimit(settings.rate_limit_general)
    app.state.settings = settings
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    install_page_errors(app)
    # The visitor's CSRF token and flash messages, signed with a key derived from the site's
    # signing key (read at the first request: embedded mode creates it in the data dir).
    app.add_middleware(SessionMiddleware, signer=SessionSigner(lambda: settings.signing_key))
    app.add_middleware(_RememberVisitor)
    app.add_middleware(
        ObservabilityMiddleware, service="web", access_log_sample=settings.access_log_sample
    )
    return app


def create_app(settings: CoreSettings) -> FastAPI:
    """What `boxoffice serve web` and embedded mode build: the site over `settings.gateway_url`
    (embedded mode then points it at the in-process API with `state.gateway.use_transport`)."""
    return create_web_app(settings)
