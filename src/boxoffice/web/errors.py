"""How the site answers what went wrong: a readable page for people, the design's JSON error
shape for the seat map's fetch calls, and the login page when the visitor must log in."""

from __future__ import annotations

import re
from typing import Any

import structlog
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
    visitor,
)
from boxoffice.web.session import CsrfRefused

# The seat map's script calls these with fetch: they answer JSON, errors in the design's shape.
_FETCH_PATH = re.compile(r"/showtimes/[^/]+/seats/[^/]+")
# Which part of the system an API path belongs to, in the words a visitor reads.
_SERVICES = {
    "auth": "the account service",
    "movies": "the movie catalog",
    "bookings": "the booking service",
    "payments": "the payment service",
    "notifications": "the notification service",
}
log = structlog.get_logger("boxoffice.web.errors")

# What each error page is titled, and what it says when the cause has nothing better to say.
TITLES = {
    400: ("That did not work", "Something in that request was not right. Go back and try again."),
    401: ("Please log in", "Log in to see this page."),
    403: ("Not allowed", "Your account may not open this page."),
    404: ("Not found", "We could not find that page. The link may be old or mistyped."),
    409: ("That did not work", "That could not be done right now."),
    429: (
        "Slow down a little",
        "You are going faster than we can keep up with. Wait a few seconds and try again.",
    ),
    500: ("Something went wrong", "Something went wrong on our side. Please try again."),
    503: ("Something is down", "Part of the system is down right now. Please try again soon."),
}


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


async def require_user(request: Request, *roles: str) -> dict[str, Any]:
    """The logged-in visitor (any role, or one of `roles`): the login page for nobody, a 403
    page for the wrong role."""
    user = await visitor(request)
    if user is None:
        raise LoginRequired()
    if roles and user.get("role") not in roles:
        raise StarletteHTTPException(403, "Your account may not open this page.")
    return user


def service_of(path: str | None) -> str | None:
    """'/api/bookings/...' → 'the booking service'; None for a path of no service."""
    parts = (path or "").split("/")
    return _SERVICES.get(parts[2]) if len(parts) > 2 and parts[1] == "api" else None


def back_here(request: Request) -> str:
    """Where the login page sends the visitor back to: this page, with its query."""
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


async def error_page(
    request: Request, status: int, message: str | None = None, **context: Any
) -> Response:
    """The friendly page for `status`, with the site's header (and the visitor, still logged
    in) and one line saying what happened."""
    title, fallback = TITLES.get(status, TITLES[500] if status >= 500 else TITLES[400])
    return await render(
        request,
        "error.html",
        status_code=status,
        status=status,
        title=title,
        message=message or fallback,
        **context,
    )


def _api_message(exc: ApiError) -> str:
    """What a visitor reads for an API error: never a code, a trace or a stack of JSON."""
    service = service_of(exc.path)
    if exc.status_code == 503 or exc.status_code == 502 or exc.status_code == 504:
        part = service or "a part of the system"
        return f"{part[0].upper()}{part[1:]} is not answering right now. Try again in a minute."
    if exc.status_code == 429:
        return TITLES[429][1]
    if exc.status_code >= 500:
        return TITLES[500][1]
    if exc.status_code == 404:
        return TITLES[404][1]
    return exc.detail


def install_page_errors(app: FastAPI) -> None:
    """API errors become a readable page (or the login page when the session is gone)."""

    async def on_login_required(request: Request, _: Exception) -> Response:
        if wants_json(request):
            return JSONResponse(
                error_body(401, "NotAuthenticated", "Log in first."), status_code=401
            )
        return redirect(request, "/login", next=back_here(request))

    async def refuse(request: Request, status: int, error_type: str, message: str) -> Response:
        if wants_json(request):
            return JSONResponse(error_body(status, error_type, message), status_code=status)
        return await error_page(request, status, message)

    async def on_csrf(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, CsrfRefused)
        return await refuse(request, 403, "CsrfError", exc.reason)

    async def on_bad_input(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, BadInput)
        return await refuse(request, 400, "ValidationError", exc.detail)

    async def on_invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = [e for e in exc.errors() if isinstance(e, dict)]
        # A malformed id in the address (/bookings/not-a-real-id) names nothing that exists.
        if any(tuple(e.get("loc", ()))[:1] == ("path",) for e in errors):
            return await refuse(request, 404, "NotFoundError", TITLES[404][1])
        # FastAPI's 422 lists every field; a visitor gets one readable line.
        fields = sorted({str(e.get("loc", ["", "?"])[-1]).replace("_", " ") for e in errors})
        return await refuse(
            request, 400, "ValidationError", f"Invalid input: check {', '.join(fields) or 'it'}."
        )

    async def on_api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        if exc.status_code == 401:
            if wants_json(request):
                return JSONResponse(
                    error_body(401, "NotAuthenticated", "Please log in again."), status_code=401
                )
            response = redirect(
                request, "/login", next=back_here(request), error="Please log in again."
            )
            log_out(request, response)
            return response
        if exc.status_code == 403 and not token(request) and not wants_json(request):
            return redirect(request, "/login", next=back_here(request))
        message = _api_message(exc)
        if wants_json(request):
            return JSONResponse(
                error_body(exc.status_code, exc.error_type, message), status_code=exc.status_code
            )
        status = (
            exc.status_code
            if exc.status_code in TITLES
            else (500 if exc.status_code >= 500 else 400)
        )
        return await error_page(request, status, message, service=service_of(exc.path))

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
        if exc.status_code in (401, 403) and not token(request):
            # A page for some visitors only: log in first, then come back here.
            return redirect(request, "/login", next=back_here(request))
        if exc.status_code == 405:
            return await error_page(request, 404)
        detail = str(exc.detail)
        # Starlette's own words ("Not Found") say less than our page does.
        generic = detail in ("Not Found", "Method Not Allowed", "Internal Server Error")
        return await error_page(request, exc.status_code, None if generic else detail)

    async def on_crash(request: Request, exc: Exception) -> Response:
        """Anything unexpected: a friendly 500 page, the traceback only in the log."""
        log.error("page_failed", path=request.url.path, error=repr(exc), exc_info=exc)
        if wants_json(request):
            return JSONResponse(error_body(500, "InternalError", TITLES[500][1]), status_code=500)
        try:
            return await error_page(request, 500)
        except Exception:  # the page itself failed: still no traceback for the visitor
            return Response(TITLES[500][1], status_code=500, media_type="text/plain")

    app.add_exception_handler(LoginRequired, on_login_required)
    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(CsrfRefused, on_csrf)
    app.add_exception_handler(BadInput, on_bad_input)
    app.add_exception_handler(RequestValidationError, on_invalid)
    app.add_exception_handler(Exception, on_crash)
