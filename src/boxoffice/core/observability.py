"""Metrics (design appendix B), structured JSON logs, and the correlation id (design 6.4)."""

from __future__ import annotations

import contextlib
import logging
import random
import sys
import time
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Literal, TextIO

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CORRELATION_HEADER = "X-Correlation-ID"
correlation_id_ctx: ContextVar[str | None] = ContextVar("correlation_id", default=None)

# One registry per process: in embedded mode all five services report into it, told apart
# by the `service` label.
HTTP_REQUESTS = Counter(
    "http_requests_total", "Total HTTP requests", ["service", "method", "route", "status"]
)
HTTP_DURATION = Histogram(
    "http_request_duration_seconds",
    "Request latency",
    ["service", "method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CACHE_HITS = Counter("cache_hits_total", "Cache hits", ["service", "cache"])
CACHE_MISSES = Counter("cache_misses_total", "Cache misses", ["service", "cache"])
CIRCUIT_BREAKER_STATE = Gauge(
    "circuit_breaker_state",
    "Circuit breaker state (0 closed, 1 half-open, 2 open)",
    ["service", "target"],
)

# The events backbone (core/events), by service and event name.
EVENTS_PUBLISHED = Counter(
    "events_published_total", "Events published from the outbox (confirmed)", ["service", "event"]
)
EVENTS_CONSUMED = Counter(
    "events_consumed_total", "Events handled by a consumer", ["service", "event"]
)
EVENTS_DUPLICATES = Counter(
    "events_duplicates_total",
    "Redelivered events the inbox absorbed (no second effect)",
    ["service", "event"],
)
EVENTS_RETRIED = Counter(
    "events_retried_total", "Failed event handler attempts retried", ["service", "event"]
)
EVENTS_DEAD_LETTERED = Counter(
    "events_dead_lettered_total", "Events given up on and dead-lettered", ["service", "event"]
)
OUTBOX_LAG = Gauge(
    "events_outbox_lag_seconds", "Age of the oldest unpublished outbox event", ["service"]
)


def current_correlation_id() -> str | None:
    return correlation_id_ctx.get()


@contextlib.contextmanager
def bind_correlation_id(cid: str | None) -> Iterator[None]:
    """Carry a correlation id (e.g. an event's) through work done outside a request."""
    token = correlation_id_ctx.set(cid)
    try:
        with structlog.contextvars.bound_contextvars(correlation_id=cid):
            yield
    finally:
        correlation_id_ctx.reset(token)


# The event name of the middleware's per-request log line.
REQUEST_EVENT = "request"


def configure_logging(
    level: str = "INFO", json_logs: bool | Literal["auto"] = "auto", stream: TextIO | None = None
) -> None:
    """structlog for the whole process, writing to `stream` (stderr): JSON lines with the
    correlation id merged in, or, for a person at a terminal, readable lines without the
    per-request ones below WARNING. "auto" picks JSON unless the stream is a terminal."""
    stream = stream or sys.stderr
    terminal = _is_terminal(stream)
    if json_logs == "auto":
        json_logs = not terminal
    processors: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
    ]
    if not json_logs:
        processors.append(_drop_ordinary_requests)
    processors += [
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        structlog.processors.JSONRenderer()
        if json_logs
        else structlog.dev.ConsoleRenderer(colors=terminal),
    ]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def _drop_ordinary_requests(
    _logger: object, method: str, event: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    # A person reading a terminal wants what went wrong, not a line per page they open;
    # sampled request lines still reach JSON logs, where they are searched, not read.
    if event.get("event") == REQUEST_EVENT and method in ("debug", "info"):
        raise structlog.DropEvent
    return event


# A request slower than this is logged (a warning) whatever the sampling says.
SLOW_REQUEST_SECONDS = 1.0
# Probes and scrapes, every few seconds from every prober: never logged, only counted.
QUIET_PATHS = frozenset({"/health", "/health/live", "/health/ready", "/metrics"})


class ObservabilityMiddleware:
    """Correlation id in and out, request metrics by route template, and a log line for the
    requests worth reading: server errors, slow ones, and a sample of the rest
    (`access_log_sample`; every request is counted in the metrics either way). A log line per
    request costs more than most requests themselves during a rush."""

    def __init__(self, app: ASGIApp, service: str, access_log_sample: float = 0.0) -> None:
        self.app = app
        self.service = service
        self.sample = access_log_sample
        self.log = structlog.get_logger(f"boxoffice.{service}")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope.get("headers", []):
            if name == b"x-correlation-id":
                incoming = value.decode("latin-1")[:128]
                break
        cid = incoming or str(uuid.uuid4())
        token = correlation_id_ctx.set(cid)
        structlog.contextvars.bind_contextvars(correlation_id=cid, service=self.service)
        status = 500
        started = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (CORRELATION_HEADER.lower().encode(), cid.encode("latin-1")),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "GET")
            HTTP_REQUESTS.labels(self.service, method, template, str(status)).inc()
            HTTP_DURATION.labels(self.service, method, template).observe(elapsed)
            if status >= 500 or elapsed >= SLOW_REQUEST_SECONDS:
                level = self.log.error if status >= 500 else self.log.warning
            elif self.sample and random.random() < self.sample:
                level = self.log.info
            else:
                level = None
            if level is not None and template not in QUIET_PATHS:
                level(
                    REQUEST_EVENT,
                    method=method,
                    path=scope.get("path"),
                    status=status,
                    ms=round(elapsed * 1000, 1),
                )
            structlog.contextvars.unbind_contextvars("correlation_id", "service")
            correlation_id_ctx.reset(token)


async def metrics_endpoint(_: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
