"""Staff at the door: checking tickets in."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from boxoffice.web.errors import require_token
from boxoffice.web.gateway import ApiError
from boxoffice.web.pages import (
    gateway,
    render,
)

router = APIRouter(include_in_schema=False)


@router.get("/check-in", response_class=HTMLResponse)
async def check_in_page(request: Request) -> Response:
    return await render(request, "checkin.html", result=None)


@router.post("/check-in", response_class=HTMLResponse)
async def check_in(request: Request, booking_code: Annotated[str, Form()]) -> Response:
    tok = require_token(request)
    try:
        result = await gateway(request).call(
            "POST",
            "/api/bookings/bookings/check-in",
            tok,
            json={"booking_code": booking_code.strip().upper()},
        )
    except ApiError as exc:
        if exc.status_code == 401:
            raise
        return await render(request, "checkin.html", result=None, error=exc.detail)
    return await render(request, "checkin.html", result=result)
