"""Rendering helpers: templates, the visitor, flash notices, the login cookie."""

from __future__ import annotations

import base64
import hashlib
import io
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import qrcode
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from boxoffice.web.formatting import FILTERS
from boxoffice.web.gateway import ApiError, Gateway
from boxoffice.web.session import is_https, session

TOKEN_COOKIE = "bo_token"
# A JWT: three base64url parts. Anything else in the cookie is no login (and never reaches an
# HTTP header, where a non-ASCII value would fail).
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+")
_TOKEN_MAX = 4096
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


templates.env.filters.update(FILTERS)


def gateway(request: Request) -> Gateway:
    return request.app.state.gateway  # type: ignore[no-any-return]


def token(request: Request) -> str | None:
    value = request.cookies.get(TOKEN_COOKIE)
    if not value or len(value) > _TOKEN_MAX or not _TOKEN_SHAPE.fullmatch(value):
        return None
    return value


def log_in(request: Request, response: Response, result: dict[str, Any]) -> None:
    """Keep the new login's token in its cookie; the CSRF token changes with who is logged in."""
    response.set_cookie(
        TOKEN_COOKIE,
        str(result["access_token"]),
        httponly=True,
        samesite="lax",
        secure=is_https(request),
        max_age=int(result.get("expires_in") or 1800),
    )
    session(request).rotate()
    forget_visitor(request)


def log_out(request: Request, response: Response) -> None:
    response.delete_cookie(TOKEN_COOKIE, httponly=True, samesite="lax", secure=is_https(request))
    session(request).rotate()
    forget_visitor(request)


async def visitor(request: Request) -> dict[str, Any] | None:
    """The logged-in user ({id, email, username, role, ...}) or None; a dead token is none.

    Asked of the API once per request (every later call in the request reuses the answer).
    When the API cannot answer right now (429, 5xx), the user this session last saw with this
    same token stands in, so a rate-limited or failing page never shows the visitor logged out;
    it is only what the header shows: the services check the token on every call themselves.
    """
    cached = getattr(request.state, "visitor", _UNKNOWN)
    if cached is not _UNKNOWN:
        return cached  # type: ignore[return-value]
    user = await _ask_visitor(request)
    request.state.visitor = user
    return user


_UNKNOWN = object()
_SEEN_KEY = "seen"  # in the session: {"t": a digest of the token, "u": the user it belongs to}
_SEEN_FIELDS = ("id", "email", "username", "full_name", "role")


def _token_digest(tok: str) -> str:
    return hashlib.sha256(tok.encode()).hexdigest()[:32]


async def _ask_visitor(request: Request) -> dict[str, Any] | None:
    tok = token(request)
    if not tok:
        return None
    seen = session(request).data.get(_SEEN_KEY)
    try:
        claims = await gateway(request).call("GET", "/api/auth/verify", tok)
    except ApiError as exc:
        if exc.status_code == 429 or exc.status_code >= 500:
            if isinstance(seen, dict) and seen.get("t") == _token_digest(tok):
                user = seen.get("u")
                return user if isinstance(user, dict) else None
        return None
    user = claims.get("user") if isinstance(claims, dict) else None
    if not isinstance(user, dict):
        return None
    remembered = {"t": _token_digest(tok), "u": {k: user.get(k) for k in _SEEN_FIELDS}}
    if seen != remembered:
        session(request).data[_SEEN_KEY] = remembered
        session(request).modified = True
    return user


def forget_visitor(request: Request) -> None:
    """The visitor changed (their profile, or a new login): ask the API again next time."""
    request.state.visitor = _UNKNOWN
    if session(request).data.pop(_SEEN_KEY, None) is not None:
        session(request).modified = True


async def unread_count(request: Request) -> int | None:
    """The header's badge: how many of the visitor's notices are unread; None when unknown."""
    tok = token(request)
    if not tok:
        return None
    try:
        answer = await gateway(request).call(
            "GET", "/api/notifications/notifications/unread-count", tok
        )
    except ApiError:
        return None  # a badge is not worth an error page
    count = answer.get("unread") if isinstance(answer, dict) else None
    return count if isinstance(count, int) else None


async def render(
    request: Request, name: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    context.setdefault("user", await visitor(request))
    # The badge costs one more API call: not on a page that says the API is overloaded.
    if context["user"] and status_code != 429 and "unread" not in context:
        context["unread"] = await unread_count(request)
    context.setdefault("unread", None)
    # Notices come only from this visitor's session (set by the request that redirected here),
    # never from the URL, where anyone could write one into a link.
    for kind, text in session(request).pop_flashes().items():
        context.setdefault(kind, text)
    context.setdefault("notice", None)
    context.setdefault("error", None)
    context["csrf_token"] = session(request).csrf_token
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def redirect(
    request: Request,
    path: str,
    *,
    notice: str | None = None,
    error: str | None = None,
    **params: str,
) -> RedirectResponse:
    """303 to `path` (with `params` as its query), the notice or error flashed for that page."""
    for kind, text in (("notice", notice), ("error", error)):
        if text:
            session(request).flash(kind, text)
    query = urlencode({k: v for k, v in params.items() if v})
    return RedirectResponse(f"{path}?{query}" if query else path, status_code=303)


def qr_data_uri(text: str) -> str:
    """The e-ticket: the booking code as a QR code, inline."""
    image = qrcode.make(text, box_size=6, border=2)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
