"""The whole error hierarchy and the one handler that renders the design's error shape (4.6).

Every error leaves a service as {"detail": str, "status_code": int, "error_type": str}.
Services raise these (or their own subclasses, named as facts); they never raise HTTPException.
"""

from __future__ import annotations

from typing import Any, ClassVar

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

log = structlog.get_logger("boxoffice.errors")


class ErrorResponse(BaseModel):
    """The design's error shape (section 4.6)."""

    model_config = ConfigDict(json_schema_extra={"additionalProperties": True})

    detail: str
    status_code: int
    error_type: str


class AppError(Exception):
    """Base of every error a service reports to its caller."""

    status_code: ClassVar[int] = 500
    error_type: ClassVar[str] = "InternalError"
    default_detail: ClassVar[str] = "Internal server error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.detail = detail or self.default_detail
        self.headers = headers
        self.extra = extra or {}
        super().__init__(self.detail)


class ValidationFailed(AppError):
    """The request's input is invalid."""

    status_code = 400
    error_type = "ValidationError"
    default_detail = "Invalid input"


class NotAuthenticated(AppError):
    """No valid credentials came with the request."""

    status_code = 401
    error_type = "AuthenticationError"
    default_detail = "Not authenticated"

    def __init__(self, detail: str | None = None, **kw: Any) -> None:
        kw.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(detail, **kw)


class PermissionDenied(AppError):
    """The caller is known but may not do this."""

    status_code = 403
    error_type = "PermissionError"
    default_detail = "Insufficient permissions"


class NotFound(AppError):
    """The resource does not exist (or is not the caller's to see)."""

    status_code = 404
    error_type = "NotFoundError"
    default_detail = "Not found"


class MethodNotAllowed(AppError):
    """The path exists but not with this method."""

    status_code = 405
    error_type = "MethodNotAllowed"
    default_detail = "Method not allowed"


class Conflict(AppError):
    """The request conflicts with the current state (e.g. a seat already taken)."""

    status_code = 409
    error_type = "ConflictError"
    default_detail = "Conflict"


class UnprocessableRequest(AppError):
    """The request is well formed but cannot be processed as sent."""

    status_code = 422
    error_type = "UnprocessableError"
    default_detail = "Unprocessable request"


class RateLimited(AppError):
    """Too many requests from this client."""

    status_code = 429
    error_type = "RateLimitError"
    default_detail = "Too many requests"


class ServiceUnavailable(AppError):
    """A service this request depends on is down or its circuit breaker is open."""

    status_code = 503
    error_type = "ServiceUnavailable"
    default_detail = "Service unavailable"


class UpstreamTimeout(AppError):
    """A party this request depends on did not answer in time."""

    status_code = 504
    error_type = "GatewayTimeout"
    default_detail = "Upstream timeout"


_BY_STATUS: dict[int, type[AppError]] = {
    400: ValidationFailed,
    401: NotAuthenticated,
    403: PermissionDenied,
    404: NotFound,
    405: MethodNotAllowed,
    409: Conflict,
    422: UnprocessableRequest,
    429: RateLimited,
    503: ServiceUnavailable,
    504: UpstreamTimeout,
}


def error_body(status_code: int, error_type: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"detail": detail, "status_code": status_code, "error_type": error_type, **extra}


def error_response(exc: AppError) -> JSONResponse:
    body = error_body(exc.status_code, exc.error_type, exc.detail, **exc.extra)
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


def responses(*errors: type[AppError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for a route: each listed error documented with the error shape."""
    documented: dict[int | str, dict[str, Any]] = {
        400: {"model": ErrorResponse, "description": "Invalid input"}
    }
    for err in errors:
        documented[err.status_code] = {"model": ErrorResponse, "description": err.__doc__ or ""}
    return documented


def _describe_validation(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:10]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "request"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "Invalid input"


_UNREACHABLE_HINTS = ("too many clients", "connection", "connect", "timeout", "closed")


def _database_unreachable(exc: Exception) -> bool:
    """The database could not be reached or had no connection to spare: a 503, not a bug."""
    if isinstance(exc, (sa_exc.TimeoutError, sa_exc.OperationalError, sa_exc.InterfaceError)):
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        text = f"{type(exc.orig).__name__} {exc.orig}".lower()
        return any(hint in text for hint in _UNREACHABLE_HINTS)
    return isinstance(exc, (ConnectionError, OSError))


def install_error_handlers(app: FastAPI) -> None:
    """Render every error, framework ones included, in the design's shape; never leak a trace."""

    async def on_app_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AppError)
        return error_response(exc)

    async def on_validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return error_response(ValidationFailed(_describe_validation(exc)))

    async def on_http(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        cls = _BY_STATUS.get(exc.status_code, AppError)
        detail = exc.detail if isinstance(exc.detail, str) else None
        err = cls(detail, headers=getattr(exc, "headers", None))
        if cls is AppError:
            return JSONResponse(
                error_body(exc.status_code, "HTTPError", str(exc.detail)),
                status_code=exc.status_code,
            )
        return error_response(err)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        if _database_unreachable(exc):
            log.warning("database_unavailable", path=request.url.path, error=repr(exc))
            return error_response(
                ServiceUnavailable(
                    "Database busy or unavailable; retry shortly", headers={"Retry-After": "1"}
                )
            )
        log.exception("unhandled_error", path=request.url.path, error=repr(exc))
        return error_response(AppError())

    app.add_exception_handler(AppError, on_app_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)
