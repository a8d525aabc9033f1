"""Calls between services: timeout, retries with exponential backoff (design 6.5, tenacity)
and a circuit breaker (design 6.2) whose state is the `circuit_breaker_state` gauge."""

from __future__ import annotations

import time
from typing import Any

import httpx
import structlog
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from boxoffice.core.errors import ServiceUnavailable
from boxoffice.core.observability import (
    CIRCUIT_BREAKER_STATE,
    CORRELATION_HEADER,
    current_correlation_id,
)

log = structlog.get_logger("boxoffice.http")

_STATE_VALUE = {"CLOSED": 0, "HALF_OPEN": 1, "OPEN": 2}


class CircuitBreaker:
    """CLOSED → OPEN after `failure_threshold` consecutive failures; after `recovery_timeout`
    one trial call is let through (HALF_OPEN): success closes, failure re-opens."""

    def __init__(
        self, name: str, target: str, *, failure_threshold: int = 5, recovery_timeout: float = 30.0
    ) -> None:
        self.name = name
        self.target = target
        self.failure_threshold = failure_threshold
        self.recovery_timeout = recovery_timeout
        self.failures = 0
        self.opened_at = 0.0
        self.state = "CLOSED"
        self._trial_in_flight = False
        self._publish()

    def _publish(self) -> None:
        CIRCUIT_BREAKER_STATE.labels(self.name, self.target).set(_STATE_VALUE[self.state])

    def _set(self, state: str) -> None:
        if state != self.state:
            log.warning("circuit_breaker", target=self.target, old=self.state, new=state)
        self.state = state
        self._publish()

    def allow(self) -> bool:
        if self.state == "CLOSED":
            return True
        if self.state == "OPEN" and time.monotonic() - self.opened_at >= self.recovery_timeout:
            self._set("HALF_OPEN")
        if self.state == "HALF_OPEN" and not self._trial_in_flight:
            self._trial_in_flight = True
            return True
        return False

    def release_trial(self) -> None:
        """The trial call ended without a verdict: the next call may be the trial."""
        self._trial_in_flight = False

    def record_success(self) -> None:
        self.failures = 0
        self._trial_in_flight = False
        self._set("CLOSED")

    def record_failure(self) -> None:
        self._trial_in_flight = False
        self.failures += 1
        if self.state == "HALF_OPEN" or self.failures >= self.failure_threshold:
            self.opened_at = time.monotonic()
            self._set("OPEN")


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, httpx.TransportError):
        return True
    return isinstance(exc, _UpstreamError)


class _UpstreamError(Exception):
    """A 5xx from the other service: worth retrying, and a failure for the breaker."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        super().__init__(f"{response.status_code} from {response.request.url}")


class ServiceClient:
    """An HTTP client for one other service. 4xx answers are returned to the caller as they are;
    transport errors and 5xx are retried (idempotent calls only) and count against the breaker;
    when the breaker is open or retries run out, ServiceUnavailable (503) is raised."""

    def __init__(
        self,
        caller: str,
        target: str,
        base_url: str,
        *,
        timeout: float = 3.0,
        retries: int = 3,
        failure_threshold: int = 5,
        recovery_timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        backoff_base: float = 0.2,
    ) -> None:
        self.target = target
        self.retries = retries
        self.backoff_base = backoff_base
        self.breaker = CircuitBreaker(
            caller, target, failure_threshold=failure_threshold, recovery_timeout=recovery_timeout
        )
        self._client = httpx.AsyncClient(base_url=base_url, timeout=timeout, transport=transport)

    async def request(
        self, method: str, path: str, *, idempotent: bool | None = None, **kwargs: Any
    ) -> httpx.Response:
        if idempotent is None:
            idempotent = method.upper() in ("GET", "HEAD", "PUT", "DELETE")
        headers = dict(kwargs.pop("headers", None) or {})
        cid = current_correlation_id()
        if cid:
            headers.setdefault(CORRELATION_HEADER, cid)
        attempts = self.retries if idempotent else 1

        async def once() -> httpx.Response:
            if not self.breaker.allow():
                raise ServiceUnavailable(f"{self.target} service unavailable (circuit open)")
            recorded = False
            try:
                response = await self._client.request(method, path, headers=headers, **kwargs)
                if response.status_code >= 500:
                    raise _UpstreamError(response)
                self.breaker.record_success()
                recorded = True
                return response
            except (httpx.TransportError, _UpstreamError):
                self.breaker.record_failure()
                recorded = True
                raise
            finally:
                if not recorded:
                    # Cancelled, or an error that says nothing of the other service's health
                    # (a body that would not decode, too many redirects): neither a success nor
                    # a failure, but a half-open trial must not stay taken for good.
                    self.breaker.release_trial()

        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(attempts),
                wait=wait_exponential(multiplier=self.backoff_base, max=2.0),
                retry=retry_if_exception(_is_transient),
                reraise=True,
            ):
                with attempt:
                    return await once()
        except (httpx.TransportError, _UpstreamError) as exc:
            log.warning("upstream_failed", target=self.target, path=path, error=repr(exc))
            raise ServiceUnavailable(f"{self.target} service unavailable") from exc
        raise AssertionError("unreachable")

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", path, **kwargs)

    async def aclose(self) -> None:
        await self._client.aclose()
