"""The site's own session: a signed cookie holding the visitor's CSRF token and flash messages.

Every visitor, logged in or not, gets a random CSRF token in the signed, HttpOnly `bo_session`
cookie; each form carries it in a hidden field and the seat map's script in `X-CSRF-Token`
(read from a <meta> tag). An unsafe request must carry that token and, when the browser names
where it comes from (Origin, else Referer), come from the site's own origin: a page on another
port of the same host is same-site, so SameSite=Lax alone would let it post.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SESSION_COOKIE = "bo_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# A browser keeps 4 KB a cookie: a flash longer than this is cut, never the session lost.
FLASH_LIMIT = 400
_MAX_COOKIE = 4000
_SCOPE_KEY = "boxoffice.web.session"


class CsrfRefused(Exception):
    """An unsafe request without the visitor's token, or sent from another origin."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class WebSession:
    """What the `bo_session` cookie carries; written back only when it changed."""

    def __init__(self, data: dict[str, Any] | None = None) -> None:
        self.data: dict[str, Any] = data or {}
        self.modified = False

    @property
    def csrf_token(self) -> str:
        token = self.data.get("csrf")
        if not isinstance(token, str) or not token:
            token = self.data["csrf"] = secrets.token_urlsafe(32)
            self.modified = True
        return token

    def rotate(self) -> None:
        """A fresh token when who is logged in changes, so a token seen before does not carry
        over to the new login."""
        self.data["csrf"] = secrets.token_urlsafe(32)
        self.modified = True

    def flash(self, kind: str, message: str) -> None:
        """A notice (or error) shown once, on the next page this visitor sees."""
        text = message if len(message) <= FLASH_LIMIT else message[: FLASH_LIMIT - 1] + "…"
        self.data.setdefault("flash", []).append([kind, text])
        self.modified = True

    def pop_flashes(self) -> dict[str, str]:
        """{'notice': ..., 'error': ...} of the messages waiting, which are then gone."""
        waiting = self.data.pop("flash", None)
        if waiting is None:
            return {}
        self.modified = True
        shown: dict[str, str] = {}
        for item in waiting if isinstance(waiting, list) else []:
            if isinstance(item, list) and len(item) == 2 and item[0] in ("notice", "error"):
                kind, text = item
                shown[kind] = f"{shown[kind]} {text}" if kind in shown else str(text)
        return shown


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class SessionSigner:
    """`payload.signature` with HMAC-SHA256 under a key derived from the site's signing key."""

    def __init__(self, key_source: Callable[[], str]) -> None:
        self._key_source = key_source
        self._key: bytes | None = None

    @property
    def key(self) -> bytes:
        if self._key is None:
            self._key = hmac.new(
                self._key_source().encode(), b"boxoffice web session", hashlib.sha256
            ).digest()
        return self._key

    def dumps(self, data: dict[str, Any]) -> str:
        payload = _b64(json.dumps(data, separators=(",", ":")).encode())
        return f"{payload}.{_b64(hmac.new(self.key, payload.encode(), hashlib.sha256).digest())}"

    def loads(self, value: str) -> dict[str, Any] | None:
        """The data, or None for anything not signed by us (a forged cookie is no session)."""
        payload, _, signature = value.partition(".")
        expected = _b64(hmac.new(self.key, payload.encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(signature.encode(), expected.encode()):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except (ValueError, binascii.Error):
            return None
        return data if isinstance(data, dict) else None


def _first_header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1").split(",")[0].strip() or None
    return None


def request_scheme(scope: Scope) -> str:
    """http or https as the visitor's browser sees the site: the gateway (NGINX) says which in
    X-Forwarded-Proto. A browser cannot set that header on a cross-site request, and a client
    talking to the site directly only changes what it is told itself."""
    forwarded = (_first_header(scope, b"x-forwarded-proto") or "").lower()
    if forwarded in ("http", "https"):
        return forwarded
    return "https" if scope.get("scheme") in ("https", "wss") else "http"


def is_https(request: HTTPConnection) -> bool:
    return request_scheme(request.scope) == "https"


def _normalize(scheme: str, netloc: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) with the scheme's default port filled in; None if unparsable."""
    scheme = scheme.lower()
    if scheme not in ("http", "https") or not netloc:
        return None
    try:
        parts = urlsplit(f"{scheme}://{netloc}")
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        return None
    if not parts.hostname or parts.username is not None or parts.path:
        return None
    return scheme, parts.hostname.lower(), port


def own_origin(request: Request) -> tuple[str, str, int] | None:
    """The site's origin as the browser sees it: scheme (above) and the Host it asked for
    (NGINX passes the browser's Host on; X-Forwarded-Host if a proxy in front names it)."""
    host = _first_header(request.scope, b"x-forwarded-host") or request.headers.get("host", "")
    return _normalize(request_scheme(request.scope), host)


def sender_origin(request: Request) -> tuple[str, str, int] | bool | None:
    """Where the browser says the request comes from: Origin, else Referer's origin. False when
    it says neither (some clients send no such header: the token alone then decides)."""
    origin = request.headers.get("origin")
    if origin is not None:
        parts = urlsplit(origin) if origin != "null" else None
        return _normalize(parts.scheme, parts.netloc) if parts else None
    referer = request.headers.get("referer")
    if referer:
        try:
            parts = urlsplit(referer)
        except ValueError:
            return None
        return _normalize(parts.scheme, parts.netloc)
    return False


async def check_csrf(request: Request) -> None:
    """Every unsafe request to the site: from our own origin, and carrying the visitor's token."""
    if request.method in SAFE_METHODS:
        return
    sender = sender_origin(request)
    if sender is not False and (sender is None or sender != own_origin(request)):
        raise CsrfRefused("This request came from another site, so it was not carried out.")
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        try:
            value = (await request.form()).get(CSRF_FIELD)
        except Exception:  # a malformed body carries no token; the route says what is wrong
            value = None
        sent = value if isinstance(value, str) else None
    expected = session(request).data.get("csrf")
    if (
        not sent
        or not isinstance(expected, str)
        or not hmac.compare_digest(sent.encode(), expected.encode())
    ):
        raise CsrfRefused(
            "This form has expired or was not sent from this site. Reload the page and try again."
        )


def session(request: HTTPConnection) -> WebSession:
    found = request.scope.get(_SCOPE_KEY)
    if found is None:  # outside the middleware (never in the running site): a throwaway session
        found = request.scope[_SCOPE_KEY] = WebSession()
    return found  # type: ignore[no-any-return]


class SessionMiddleware:
    """Load `bo_session` (a bad or forged one is a fresh session) and write it back, with
    HttpOnly, SameSite=Lax, and Secure whenever the site is served over HTTPS."""

    def __init__(self, app: ASGIApp, signer: SessionSigner) -> None:
        self.app = app
        self.signer = signer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = HTTPConnection(scope).cookies.get(SESSION_COOKIE)
        data = self.signer.loads(raw) if raw and len(raw) <= _MAX_COOKIE else None
        # Nothing is written back until a page needs a token or a flash (static files never do).
        state = scope[_SCOPE_KEY] = WebSession(data)

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and state.modified:
                value = self.signer.dumps(state.data)
                if len(value) > _MAX_COOKIE:  # flashes piled up: drop them, keep the token
                    state.data.pop("flash", None)
                    value = self.signer.dumps(state.data)
                cookie = f"{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax"
                if request_scheme(scope) == "https":
                    cookie += "; Secure"
                MutableHeaders(scope=message).append("set-cookie", cookie)
            await send(message)

        await self.app(scope, receive, send_with_cookie)
