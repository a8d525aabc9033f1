"""How the site answers what went wrong: a readable page for people, the design's JSON error
shape for the seat map's fetch calls, and the login page when the visitor must log in."""

from __future__ import annotations

import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from boxoffice.core.errors import error_body
from boxoffice.web.gateway import ApiError
from boxoffice.web.pages import (
    log_out,
    redirect,
    render,
    token,
)
from boxoffice.web.session import CsrfRefused

# The seat map's script calls these with fetch: they answer JSON, errors in the design's shape.
_FETCH_PATH = re.compile(r"/showtimes/[^/]+/seats/[^/]+")


class LoginRequired(Exception):
    """The page needs a logged-in visitor."""


class BadInput(Exception):
    """The request is malformed (not JSON, a number that is not one): a 400, never a 500."""

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(detail)


def wants_json(request: Request) -> bool:
    """Fetch calls (the seat map) get JSON errors; forms and links get a page."""
    if _FETCH_PATH.fullmatch(request.url.path):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def require_token(request: Request) -> str:
    tok = token(request)
    if not tok:
        raise LoginRequired()
    return tok


def install_page_errors(app: FastAPI) -> None:
    """API errors become a readable page (or the login page when the session is gone)."""

    async def on_login_required(request: Request, _: Exception) -> Response:
        return redirect(request, "/login", next=request.url.path)

    async def refuse(request: Request, status: int, error_type: str, message: str) -> Response:
        if wants_json(request):
            return JSONResponse(error_body(status, error_type, message), status_code=status)
        return await render(
            request, "error.html", status_code=status, status=status, message=message
        )

    async def on_csrf(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, CsrfRefused)
        return await refuse(request, 403, "CsrfError", exc.reason)

    async def on_bad_input(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, BadInput)
        return await refuse(request, 400, "ValidationError", exc.detail)

    async def on_invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        # FastAPI's 422 lists every field; a visitor gets one readable line.
        fields = sorted(
            {str(e.get("loc", ["", "?"])[-1]) for e in exc.errors() if isinstance(e, dict)}
        )
        return await refuse(
            request, 400, "ValidationError", f"Invalid input: check {', '.join(fields) or 'it'}."
        )

    async def on_api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        if exc.status_code == 401:
            response = redirect(
                request, "/login", next=request.url.path, error="Please log in again."
            )
            log_out(request, response)
            return response
        return await render(
            request,
            "error.html",
            status_code=exc.status_code,
            status=exc.status_code,
            message=exc.detail,
        )

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if request.url.path.startswith("/api/"):
            # An API path no service has: API clients get the design's shape, not a page.
            body = error_body(
                exc.status_code,
                "NotFoundError" if exc.status_code == 404 else "HTTPError",
                str(exc.detail),
            )
            return JSONResponse(body, status_code=exc.status_code)
        return await render(
            request,
            "error.html",
            status_code=exc.status_code,
            status=exc.status_code,
            message=str(exc.detail),
        )

    app.add_exception_handler(LoginRequired, on_login_required)
    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(CsrfRefused, on_csrf)
    app.add_exception_handler(BadInput, on_bad_input)
    app.add_exception_handler(RequestValidationError, on_invalid)
