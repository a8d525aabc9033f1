"""Per-client rate limits (design 5.5): the two limits NGINX applies in distributed mode, applied
in-process in embedded mode so both modes behave alike.

A general limit (`RATE_LIMIT_GENERAL`) covers every `/api/` path; a strict one also covers the
few routes the composition names (in boxoffice: `RATE_LIMIT_BOOKING` on booking, cancelling and
paying, `boxoffice.topology.BOOKING_LIMITED_ROUTES`). Each limit allows a burst of its per-minute
count and then refills steadily, like NGINX's `limit_req ... burst=<per-minute count> nodelay`,
so a user's normal session never trips it while a script hammering the API does.

The web site is one client of the API that acts for many visitors, and a page it shows costs
several API calls (the movie, its showtimes, who is logged in...). Were those counted, a visitor
would pay the general limit three or four times per page and hit a 429 at a human pace. So:

- The site limits each visitor itself (`VisitorLimit`, one token per page view or in-page
  action, keyed like the API's limits) and in-page actions (seat clicks, polls) have a budget
  of their own, `SITE_ACTIONS_PER_PAGE` times the general limit, so clicking seats never eats
  the page views.
- Its calls to the API carry `SITE_HEADER`: a proof derived with HMAC-SHA256 from the signing
  key (SECRET_KEY, or embedded mode's own key), which never leaves the servers. A request
  bearing it skips the general limit only: the strict limit (book, cancel, pay) and the
  login throttles still count it against the visitor it names in X-Forwarded-For. Embedded
  mode checks it here in constant time; in distributed mode NGINX's general zone has no key for
  a request from the site's own address (127.0.0.1) with the proof (an empty key is not
  counted), see gateway/nginx.conf.j2. The proof is one-way: knowing it signs no token.
- A request from anywhere else with no proof, or a wrong one, is counted as before: forging
  the header gains nothing without the key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from boxoffice.core.errors import error_body
from boxoffice.core.settings import parse_rate

# Routes as (gateway prefix, service path regex) pairs: a request's path is /api/<prefix><path>.
Routes = Sequence[tuple[str, str]]


def route_matcher(routes: Routes) -> Callable[[str, str], bool]:
    """Whether a request (method, path) is a POST to one of `routes`."""
    if not routes:
        return lambda method, path: False
    pattern = re.compile("|".join(f"/api/{prefix}{path}/?" for prefix, path in routes))

    def matches(method: str, path: str) -> bool:
        return method == "POST" and pattern.fullmatch(path) is not None

    return matches


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


# The header of the web site's own API calls, and how many in-page actions (seat clicks, polls)
# a visitor gets for each page view the general limit allows.
SITE_HEADER = "X-Boxoffice-Site"
SITE_ACTIONS_PER_PAGE = 4
_SITE_HEADER_KEY = SITE_HEADER.lower().encode()
_SITE_PROOF_CONTEXT = b"boxoffice: an API call the web site makes for one of its visitors"


def site_proof(signing_key: str) -> str:
    """The proof the web site's API calls carry (see the module's docstring): 128 bits, short
    enough for a key of NGINX's map hash."""
    return hmac.new(signing_key.encode(), _SITE_PROOF_CONTEXT, hashlib.sha256).hexdigest()[:32]


def carries_site_proof(scope: Scope, proof: str) -> bool:
    """Whether the request bears the site's proof (compared in constant time)."""
    for name, value in scope.get("headers", []):
        if name == _SITE_HEADER_KEY:
            return hmac.compare_digest(value, proof.encode())
    return False


def client_address(scope: Scope) -> str:
    """Who is asking: the peer, or, when the peer is this machine (the web site calling on a
    visitor's behalf, or NGINX passing a visitor to the site), the address it names last in
    X-Forwarded-For: the one it saw itself, as NGINX's real_ip does (a client may put anything
    before it)."""
    client = scope.get("client")
    peer = client[0] if client else "unknown"
    if peer not in ("127.0.0.1", "::1"):
        return peer
    for name, value in scope.get("headers", []):
        if name == b"x-forwarded-for":
            last = value.decode("latin-1").split(",")[-1].strip()
            return last or peer
    return peer


class VisitorLimit:
    """The web site's own per-visitor limit: page views at the general limit, in-page actions
    (a request the browser sends from a page, not a navigation) at SITE_ACTIONS_PER_PAGE times
    it. `spend` says how long to wait (0: allowed, and counted)."""

    def __init__(self, general: str, clock: Callable[[], float] = time.monotonic) -> None:
        limit = RateLimit.parse(general)
        self.pages = TokenBucket(limit, clock)
        self.actions = TokenBucket(
            RateLimit(limit.count * SITE_ACTIONS_PER_PAGE, limit.window), clock
        )

    def spend(self, visitor: str, *, in_page: bool) -> float:
        bucket = self.actions if in_page else self.pages
        wait = bucket.wait_time(visitor)
        if wait == 0:
            bucket.take(visitor)
        return wait


class RateLimitMiddleware:
    """429 in the error shape, with Retry-After, for a client past the general limit, or past
    the strict one on a POST to one of `strict_routes`."""

    def __init__(
        self,
        app: ASGIApp,
        general: str,
        strict: str,
        strict_routes: Routes = (),
        clock: Callable[[], float] = time.monotonic,
        site_proof: Callable[[], str] | None = None,
    ) -> None:
        self.app = app
        self.general = TokenBucket(RateLimit.parse(general), clock)
        self.strict = TokenBucket(RateLimit.parse(strict), clock)
        self._strictly_limited = route_matcher(strict_routes)
        # Read at the first request: embedded mode makes its signing key when it starts.
        self._site_proof = site_proof
        self._proof: str | None = None

    def _from_site(self, scope: Scope) -> bool:
        if self._site_proof is None:
            return False
        if self._proof is None:
            self._proof = self._site_proof()
        return carries_site_proof(scope, self._proof)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith("/api/"):
            await self.app(scope, receive, send)
            return
        key = client_address(scope)
        # The web site's own calls are limited per visitor by the site (see the docstring).
        buckets = [] if self._from_site(scope) else [self.general]
        if self._strictly_limited(scope.get("method", "GET"), path):
            buckets.append(self.strict)
        # Check every limit before spending any token, so a refused request costs nothing.
        waits = [(bucket.wait_time(key), bucket) for bucket in buckets]
        if waits:
            wait, refusing = max(waits, key=lambda w: w[0])
            if wait > 0:
                await self._refuse(send, refusing.limit, wait)
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
