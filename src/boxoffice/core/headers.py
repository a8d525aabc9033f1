"""The security headers of every answer the public gateway gives (design 5.3, issue 11), in one
place: the embedded app's middleware sends them and the NGINX template is rendered from them, so
both modes answer with the same headers."""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def _policy(*directives: str) -> str:
    return "; ".join(directives)


# The site has no inline script or style (seatmap.js and style.css are files) and no plugins.
# Images: its own posters and QR codes (data: URIs), and a poster_url an admin may point at any
# https image host; an image cannot run script, so that is the one source allowed from outside.
CONTENT_SECURITY_POLICY = _policy(
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: https:",
    "object-src 'none'",
    "frame-ancestors 'none'",
    "base-uri 'self'",
    "form-action 'self'",
)
# The API docs (core/docs.py): Swagger UI's bundle, its stylesheet and its start script are the
# service's own files, so these pages need nothing inline and nothing from another host; they
# show no poster either, so even images come only from here.
DOCS_CONTENT_SECURITY_POLICY = _policy(
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "object-src 'none'",
    "frame-ancestors 'none'",
    "base-uri 'self'",
    "form-action 'self'",
)
# The API docs page of a service through the gateway: /api/<prefix>/docs.
DOCS_PATH = r"^/api/[a-z]+/docs$"
_DOCS = re.compile(DOCS_PATH)

# Sent on every answer (the Content-Security-Policy is chosen by path, see above).
SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("X-Frame-Options", "SAMEORIGIN"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-XSS-Protection", "1; mode=block"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
    (
        "Permissions-Policy",
        "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
        "microphone=(), payment=(), usb=()",
    ),
)
# Only over TLS: at the gateway itself, or behind a proxy that ended TLS and says so in
# X-Forwarded-Proto (browsers ignore the header on a plain-HTTP answer, so a client claiming
# https over HTTP gains nothing).
STRICT_TRANSPORT_SECURITY = "max-age=31536000; includeSubDomains"


def content_security_policy(path: str) -> str:
    """The policy for an answer to `path`."""
    return DOCS_CONTENT_SECURITY_POLICY if _DOCS.match(path) else CONTENT_SECURITY_POLICY


def over_tls(scope: Scope) -> bool:
    """Whether the request came over HTTPS, to this server or to the proxy in front of it."""
    if scope.get("scheme") == "https":
        return True
    for name, value in scope.get("headers", []):
        if name == b"x-forwarded-proto":
            return value.split(b",")[0].strip().lower() == b"https"
    return False


def security_headers(scope: Scope) -> list[tuple[bytes, bytes]]:
    """Every security header for the answer to this request."""
    headers = [(name, value) for name, value in SECURITY_HEADERS]
    headers.append(("Content-Security-Policy", content_security_policy(scope.get("path", ""))))
    if over_tls(scope):
        headers.append(("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY))
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]


class SecurityHeadersMiddleware:
    """The security headers on every response, as NGINX adds them in distributed mode; a header
    the app set itself is left as it is."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = security_headers(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                added = [(n, v) for n, v in extra if n not in names]
                message = dict(message, headers=[*message.get("headers", []), *added])
            await send(message)

        await self.app(scope, receive, send_with_headers)
