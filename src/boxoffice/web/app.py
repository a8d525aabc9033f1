"""The web site: server-rendered pages (FastAPI + Jinja2) over the gateway API.

It plays the role Laravel plays in the design and, like it, knows the services only through
`/api/...`: in distributed mode through NGINX, in embedded mode in-process.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from boxoffice.core.observability import ObservabilityMiddleware
from boxoffice.core.settings import Settings
from boxoffice.web.gateway import Gateway
from boxoffice.web.routes import install_page_errors, router

STATIC = Path(__file__).parent / "static"


def create_web_app(
    settings: Settings, transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    """The site; `transport` reaches the API in-process (embedded), else `settings.gateway_url`."""
    gateway = Gateway(settings.gateway_url, transport)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await gateway.aclose()

    app = FastAPI(title="boxoffice web", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.gateway = gateway
    app.state.settings = settings
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    install_page_errors(app)
    app.add_middleware(ObservabilityMiddleware, service="web")
    return app
