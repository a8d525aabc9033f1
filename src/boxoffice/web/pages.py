"""Rendering helpers: templates, the visitor, flash notices, the login cookie."""

from __future__ import annotations

import base64
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


def log_out(request: Request, response: Response) -> None:
    response.delete_cookie(TOKEN_COOKIE, httponly=True, samesite="lax", secure=is_https(request))
    session(request).rotate()


async def visitor(request: Request) -> dict[str, Any] | None:
    """The logged-in user ({id, email, username, role, ...}) or None; a dead token is none."""
    tok = token(request)
    if not tok:
        return None
    try:
        claims = await gateway(request).call("GET", "/api/auth/verify", tok)
    except ApiError:
        return None
    user = claims.get("user") if isinstance(claims, dict) else None
    return user if isinstance(user, dict) else None


async def render(
    request: Request, name: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    context.setdefault("user", await visitor(request))
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
