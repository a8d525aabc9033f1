"""Rendering helpers: templates, the visitor, flash notices."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import qrcode
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from boxoffice.web.gateway import ApiError, Gateway

TOKEN_COOKIE = "bo_token"
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def vnd(amount: Any) -> str:
    """120000 → '120,000 ₫' (the design's amounts are VND)."""
    try:
        return f"{float(amount):,.0f} ₫"
    except (TypeError, ValueError):
        return str(amount)


templates.env.filters["vnd"] = vnd


def gateway(request: Request) -> Gateway:
    return request.app.state.gateway  # type: ignore[no-any-return]


def token(request: Request) -> str | None:
    return request.cookies.get(TOKEN_COOKIE)


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
    context.setdefault("notice", request.query_params.get("notice"))
    context.setdefault("error", request.query_params.get("error"))
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def redirect(path: str, **params: str) -> RedirectResponse:
    query = urlencode({k: v for k, v in params.items() if v})
    return RedirectResponse(f"{path}?{query}" if query else path, status_code=303)


def qr_data_uri(text: str) -> str:
    """The e-ticket: the booking code as a QR code, inline."""
    image = qrcode.make(text, box_size=6, border=2)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
