"""The admin's pages: the catalog."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from boxoffice.web.errors import BadInput, require_token
from boxoffice.web.gateway import ApiError
from boxoffice.web.pages import (
    gateway,
    redirect,
    render,
    visitor,
)

router = APIRouter(include_in_schema=False)


@router.get("/admin", response_class=HTMLResponse)
async def admin_page(request: Request) -> Response:
    user = await visitor(request)
    if not user or user.get("role") != "admin":
        raise StarletteHTTPException(403, "Only admins run the catalog.")
    api = gateway(request)
    movies = await api.call("GET", "/api/movies/movies", params={"limit": 200})
    theaters = await api.call("GET", "/api/movies/theaters", params={"limit": 200})
    return await render(request, "admin.html", user=user, movies=movies, theaters=theaters)


@router.post("/admin/{kind}")
async def admin_create(request: Request, kind: str) -> Response:
    tok = require_token(request)
    form = dict(await request.form())
    body: dict[str, Any]
    if any(not isinstance(v, str) for v in form.values()):
        raise BadInput("The catalog forms take text fields only.")
    if kind == "movies":
        body = {k: v for k, v in form.items() if v and k != "csrf_token"}
        body["duration_minutes"] = _whole_number(form, "duration_minutes", "Minutes")
    elif kind == "theaters":
        body = {k: form.get(k) for k in ("name", "location", "city")}
        body["rows"] = _whole_number(form, "rows", "Rows")
        body["seats_per_row"] = _whole_number(form, "seats_per_row", "Seats a row")
        body["vip_rows"] = [
            r.strip().upper() for r in str(form.get("vip_rows", "")).split(",") if r.strip()
        ]
        body["aisles_after"] = [
            int(n) for n in str(form.get("aisles_after", "")).split(",") if n.strip().isdigit()
        ]
    elif kind == "showtimes":
        body = {
            k: form.get(k) for k in ("movie_id", "theater_id", "show_date", "show_time", "price")
        }
    else:
        raise StarletteHTTPException(404, "Nothing to create here.")
    try:
        await gateway(request).call("POST", f"/api/movies/{kind}", tok, json=body)
    except ApiError as exc:
        if exc.status_code == 401:
            raise
        return redirect(request, "/admin", error=exc.detail)
    return redirect(request, "/admin", notice=f"Created in {kind}.")


def _whole_number(form: dict[str, Any], field: str, label: str) -> int:
    text = str(form.get(field) or "0").strip()
    if not re.fullmatch(r"-?[0-9]{1,9}", text):
        raise BadInput(f"{label} must be a whole number.")
    return int(text)
