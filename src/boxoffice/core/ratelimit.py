"""Per-client rate limits (design 5.5): the two limits NGINX applies in distributed mode, applied
in-process in embedded mode so both modes behave alike.

`RATE_LIMIT_GENERAL` covers every `/api/` path; `RATE_LIMIT_BOOKING` also covers booking,
cancelling and paying (`BOOKING_LIMITED_ROUTES`). Each limit allows a burst of its per-minute
count and then refills steadily, like NGINX's `limit_req ... burst=<per-minute count> nodelay`,
so a user's normal session never trips it while a script hammering the API does.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from boxoffice.core.errors import error_body
from boxoffice.core.settings import parse_rate

# (gateway prefix, service path regex) of the POST routes under the stricter booking limit.
# The NGINX template renders its locations from this list too: one definition for both modes.
BOOKING_LIMITED_ROUTES: tuple[tuple[str, str], ...] = (
    ("bookings", "/book"),
    ("bookings", "/bookings/[^/]+/cancel"),
    ("payments", "/process"),
)
_BOOKING_PATH = re.compile(
    "|".join(f"/api/{prefix}{path}/?" for prefix, path in BOOKING_LIMITED_ROUTES)
)


def is_booking_limited(method: str, path: str) -> bool:
    """Whether a request falls under the booking limit as well as the general one."""
    return method == "POST" and _BOOKING_PATH.fullmatch(path) is not None


@dataclass(frozen=True)
class RateLimit:
    """A limit such as '10/minute': `count` requests per `window` seconds."""

    count: int
    window: int

    @classmethod
    def parse(cls, rate: str) -> RateLimit:
        count, window = parse_rate(rate)
        if count < 1:
            raise ValueError(f"rate limit {rate!r} must allow at least one request")
        return cls(count, window)

    @property
    def per_minute(self) -> int:
        """Requests a minute (at least 1): the burst both modes allow."""
        return max(1, math.ceil(self.count * 60 / self.window))

    @property
    def per_second(self) -> float:
        return self.count / self.window

    @property
    def nginx_rate(self) -> str:
        """The `rate=` of an NGINX `limit_req_zone` (it knows only r/s and r/m)."""
        if self.window == 1:
            return f"{self.count}r/s"
        return f"{self.per_minute}r/m"

    @property
    def retry_after(self) -> int:
        """Whole seconds until one more request is allowed after the bucket ran dry."""
        return max(1, math.ceil(1 / self.per_second))


class TokenBucket:
    """Per-key token buckets: `per_minute` tokens at most, refilled at the limit's rate."""

    max_keys = 10_000

    def __init__(self, limit: RateLimit, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.capacity = float(limit.per_minute)
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def _tokens(self, key: str, now: float) -> float:
        tokens, updated = self._buckets.get(key, (self.capacity, now))
        return min(self.capacity, tokens + (now - updated) * self.limit.per_second)

    def wait_time(self, key: str) -> float:
        """Seconds until `key` may send one more request (0: it may now)."""
        tokens = self._tokens(key, self.clock())
        return 0.0 if tokens >= 1 else (1 - tokens) / self.limit.per_second

    def take(self, key: str) -> None:
        """Spend one token of `key` (the caller checked `wait_time` first)."""
        now = self.clock()
        if len(self._buckets) >= self.max_keys and key not in self._buckets:
            self._prune(now)
        self._buckets[key] = (self._tokens(key, now) - 1, now)

    def _prune(self, now: float) -> None:
        # A full bucket carries no information: forget it, so memory stays bounded.
        full = [k for k in self._buckets if self._tokens(k, now) >= self.capacity]
        for key in full:
            del self._buckets[key]
        if len(self._buckets) >= self.max_keys:
            self._buckets.clear()


def client_address(scope: Scope) -> str:
    """Who is asking: the peer, or, when the peer is this machine's own web site calling on a
    visitor's behalf, the visitor it names first in X-Forwarded-For (as NGINX's real_ip does)."""
    client = scope.get("client")
    peer = client[0] if client else "unknown"
    if peer not in ("127.0.0.1", "::1"):
        return peer
    for name, value in scope.get("headers", []):
        if name == b"x-forwarded-for":
            first = value.decode("latin-1").split(",")[0].strip()
            return first or peer
    return peer


class RateLimitMiddleware:
    """429 in the error shape, with Retry-After, for a client past the general or booking limit."""

    def __init__(
        self,
        app: ASGIApp,
        general: str,
        booking: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.general = TokenBucket(RateLimit.parse(general), clock)
        self.booking = TokenBucket(RateLimit.parse(booking), clock)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith("/api/"):
            await self.app(scope, receive, send)
            return
        key = client_address(scope)
        buckets = [self.general]
        if is_booking_limited(scope.get("method", "GET"), path):
            buckets.append(self.booking)
        # Check every limit before spending any token, so a refused request costs nothing.
        waits = [(bucket.wait_time(key), bucket) for bucket in buckets]
        wait, bucket = max(waits, key=lambda w: w[0])
        if wait > 0:
            await self._refuse(send, bucket.limit, wait)
            return
        for bucket in buckets:
            bucket.take(key)
        await self.app(scope, receive, send)

    async def _refuse(self, send: Send, limit: RateLimit, wait: float) -> None:
        retry_after = max(1, math.ceil(wait))
        body = error_body(
            429,
            "RateLimitError",
            f"Too many requests: at most {limit.count} per {limit.window} s; "
            f"retry in {retry_after} s",
        )
        await send_json(send, 429, body, [(b"retry-after", str(retry_after).encode())])


async def send_json(
    send: Send, status: int, body: dict[str, object], headers: list[tuple[bytes, bytes]]
) -> None:
    """Send a whole JSON response from plain ASGI middleware."""
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
