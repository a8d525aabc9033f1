"""The web site's only way to the services: the gateway API, with the visitor's token."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

import httpx

from boxoffice.core.ratelimit import SITE_HEADER

# The visitor this request serves: named to the gateway so rate limits stay per visitor.
visitor_address: ContextVar[str | None] = ContextVar("visitor_address", default=None)


class ApiError(Exception):
    """The API answered with an error; carries its status, the design's `detail` and
    `error_type`, the taken seats' ids when the error names them, and the whole error body
    (`body`: the design's shape plus any fields the service adds, e.g. `checked_in_at`)."""

    def __init__(
        self,
        status_code: int,
        detail: str,
        seat_ids: list[str] | None = None,
        error_type: str = "HTTPError",
        path: str | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        self.status_code = status_code
        # The API path that failed: an error page names the service behind it (errors.py).
        self.path = path
        self.detail = detail
        self.seat_ids = seat_ids
        self.error_type = error_type
        self.body = body or {}
        super().__init__(f"{status_code}: {detail}")


class Gateway:
    """Calls `/api/...` paths; in embedded mode in-process, in distributed mode through NGINX.

    `proof` gives the site's proof (core.ratelimit.site_proof), sent with every call so the
    API's general limit leaves it to the site's own per-visitor limit; read at the first call
    (embedded mode makes its signing key when it starts)."""

    def __init__(
        self,
        base_url: str,
        transport: httpx.AsyncBaseTransport | None = None,
        proof: Callable[[], str] | None = None,
    ) -> None:
        self._client = httpx.AsyncClient(base_url=base_url, transport=transport, timeout=15)
        self._proof_source = proof
        self._proof: str | None = None

    def use_transport(self, transport: httpx.AsyncBaseTransport) -> None:
        """Point at an in-process app (embedded mode wires this after the root app exists)."""
        self._client = httpx.AsyncClient(base_url="http://gateway", transport=transport, timeout=15)

    async def call(
        self,
        method: str,
        path: str,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Any:
        """The decoded JSON body of a 2xx answer; ApiError for anything else."""
        sent = dict(headers or {})
        if self._proof_source is not None:
            if self._proof is None:
                self._proof = self._proof_source()
            sent[SITE_HEADER] = self._proof
        address = visitor_address.get()
        if address:
            sent["X-Forwarded-For"] = address
        if token:
            sent["Authorization"] = f"Bearer {token}"
        try:
            response = await self._client.request(method, path, headers=sent, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError(
                503, f"The service is unreachable ({type(exc).__name__})", path=path
            ) from exc
        if response.status_code >= 400:
            seat_ids = None
            error_type = "HTTPError"
            body: Any = None
            try:
                body = response.json()
                detail = str(body.get("detail", response.text))
                if isinstance(body.get("error_type"), str):
                    error_type = body["error_type"]
                if isinstance(body.get("seat_ids"), list):
                    seat_ids = [str(s) for s in body["seat_ids"]]
            except (ValueError, AttributeError):
                detail = response.text[:200] or response.reason_phrase
            raise ApiError(
                response.status_code,
                detail,
                seat_ids,
                error_type,
                path,
                body if isinstance(body, dict) else None,
            )
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    async def aclose(self) -> None:
        await self._client.aclose()
