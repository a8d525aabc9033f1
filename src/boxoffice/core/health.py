"""Health endpoints: `/health/live` (the process answers), `/health/ready` (what the service
needs answers) and `/health` (the design's endpoint, meaning ready).

Kubernetes restarts a container whose liveness fails and stops routing to one whose readiness
fails, so liveness looks at nothing outside the process: were it to ping the database, one
database outage would restart every replica at once, and no restart mends a database.

Readiness answers 503 only when a *required* check fails (the database: without it a service
can do nothing). Redis and the broker are asked too and named in the body, but their failure
only makes the status "degraded" with a 200: SPEC 4.7 has booking keep selling without Redis and
bookings commit without RabbitMQ (the outbox sends their events later), which it could not do
if every replica left the load balancer the moment either went down.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from boxoffice.core.observability import metrics_endpoint

# The database may be busy in a rush (a ping waits for a pooled connection): it gets longer.
DATABASE_TIMEOUT_SECONDS = 2.0
# Redis and the broker answer in milliseconds; one that is down must not slow the probe.
DEPENDENCY_TIMEOUT_SECONDS = 1.0


@dataclass(frozen=True)
class Check:
    """One dependency readiness asks about, with how long it may take to answer."""

    name: str
    probe: Callable[[], Awaitable[object]]
    timeout: float = DEPENDENCY_TIMEOUT_SECONDS
    # Required: the service cannot work without it (503). Otherwise it degrades (still 200).
    required: bool = True


class Health(BaseModel):
    """Design appendix A, plus the service name and what was checked."""

    status: str
    timestamp: dt.datetime
    service: str
    checks: dict[str, str] = {}


async def _outcome(check: Check) -> str:
    try:
        await asyncio.wait_for(check.probe(), timeout=check.timeout)
    except Exception as exc:
        # The type only: a driver's message may carry a host name or a URL with its password.
        return f"error: {type(exc).__name__}"
    return "ok"


async def readiness(service: str, checks: Mapping[str, Check]) -> tuple[Health, int]:
    """Every check at once (so the slowest bounds the answer); the body and its status code."""
    outcomes = await asyncio.gather(*(_outcome(c) for c in checks.values()))
    results = dict(zip(checks, outcomes, strict=True))
    failed = [checks[name] for name, outcome in results.items() if outcome != "ok"]
    if any(c.required for c in failed):
        status, code = "unhealthy", 503
    elif failed:
        status, code = "degraded", 200
    else:
        status, code = "healthy", 200
    body = Health(status=status, timestamp=dt.datetime.now(dt.UTC), service=service, checks=results)
    return body, code


def health_router(service: str, *, metrics: bool = True) -> APIRouter:
    """The health routes (and /metrics unless `metrics` is False); the checks are the ones on
    the app's ServiceContext."""
    router = APIRouter(tags=["ops"])
    answers: dict[int | str, dict[str, Any]] = {503: {"model": Health}}

    async def ready(request: Request) -> Any:
        body, code = await readiness(service, request.app.state.ctx.checks)
        return JSONResponse(body.model_dump(mode="json"), status_code=code)

    router.add_api_route(
        "/health",
        ready,
        methods=["GET"],
        response_model=Health,
        responses=answers,
        summary="Ready (as /health/ready)",
        description="The design's health endpoint: the same answer as /health/ready.",
    )
    router.add_api_route(
        "/health/ready",
        ready,
        methods=["GET"],
        response_model=Health,
        responses=answers,
        summary="Ready to serve",
        description='200 when the database answers ("degraded" if Redis or the broker does '
        "not), 503 when it does not; `checks` names each dependency and how it answered.",
    )

    @router.get("/health/live", response_model=Health, summary="Alive")
    async def live() -> Health:
        """The process answers; nothing outside it is asked (liveness)."""
        return Health(status="healthy", timestamp=dt.datetime.now(dt.UTC), service=service)

    if metrics:
        # On the service's own port, which Prometheus scrapes; the gateway does not route it.
        router.add_api_route("/metrics", metrics_endpoint, methods=["GET"], include_in_schema=False)
    return router
