"""The site's pages: browse, pick seats, book, pay, tickets, notifications, admin, check-in."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections import defaultdict
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from boxoffice.core.errors import error_body
from boxoffice.web.gateway import ApiError
from boxoffice.web.pages import (
    gateway,
    log_in,
    log_out,
    qr_data_uri,
    redirect,
    render,
    token,
    visitor,
)
from boxoffice.web.posters import poster_svg
from boxoffice.web.session import CsrfRefused

# Unsafe requests are checked for the visitor's CSRF token by the app itself (app.py), so a
# route added here, or anywhere in the site, is covered without asking.
router = APIRouter(include_in_schema=False)

# The seat map's script calls these with fetch: they answer JSON, errors in the design's shape.
_FETCH_PATH = re.compile(r"/showtimes/[^/]+/seats/[^/]+")
# What the pay form sends as Idempotency-Key (a uuid4 hex); anything else is not ours.
_IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_\-]{8,100}")
_MAX_SEATS = 100


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


def _require_token(request: Request) -> str:
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


# The site needs nothing of its own to answer (its data comes through the gateway, whose
# failures it renders as pages): alive is ready.
@router.get("/health")
@router.get("/health/live")
@router.get("/health/ready")
async def health() -> dict[str, str]:
    """Design appendix A, for the supervisor, probes and load balancers."""
    return {"status": "healthy", "timestamp": dt.datetime.now(dt.UTC).isoformat()}


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, q: str = "", genre: str = "") -> Response:
    params = {k: v for k, v in {"q": q, "genre": genre, "limit": 200}.items() if v}
    movies = await gateway(request).call("GET", "/api/movies/movies", params=params)
    genres = sorted({m["genre"] for m in movies if m.get("genre")})
    return await render(request, "home.html", movies=movies, q=q, genre=genre, genres=genres)


@router.get("/movies/{movie_id}", response_class=HTMLResponse)
async def movie_page(request: Request, movie_id: uuid.UUID) -> Response:
    api = gateway(request)
    movie = await api.call("GET", f"/api/movies/movies/{movie_id}")
    showtimes = await api.call(
        "GET", "/api/movies/showtimes", params={"movie_id": str(movie_id), "limit": 200}
    )
    by_date: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for show in sorted(showtimes, key=lambda s: (s["show_date"], s["show_time"])):
        by_date[show["show_date"]].append(show)
    return await render(request, "movie.html", movie=movie, by_date=dict(by_date))


@router.get("/showtimes/{showtime_id}", response_class=HTMLResponse)
async def seat_map(request: Request, showtime_id: uuid.UUID) -> Response:
    api = gateway(request)
    show = await api.call("GET", f"/api/movies/showtimes/{showtime_id}")
    seats = await api.call(
        "GET", f"/api/movies/showtimes/{showtime_id}/available-seats", token(request)
    )
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for seat in sorted(seats["seats"], key=lambda s: (s["seat_row"], s["seat_number"])):
        rows[seat["seat_row"]].append(seat)
    return await render(
        request, "showtime.html", show=show, rows=dict(rows), available=seats["available_count"]
    )


@router.post("/showtimes/{showtime_id}/seats/{action}")
async def hold_or_release(request: Request, showtime_id: uuid.UUID, action: str) -> Response:
    """What the seat map's script calls on every click: hold or release through the API."""
    if action not in ("hold", "release"):
        return JSONResponse(error_body(404, "NotFoundError", "Unknown action"), status_code=404)
    tok = token(request)
    if not tok:
        return JSONResponse(
            error_body(401, "AuthenticationError", "Please log in to pick seats"), status_code=401
        )
    try:
        body = json.loads(await request.body())
    except (ValueError, RecursionError) as exc:  # not JSON, not UTF-8, or nested too deep
        raise BadInput('The body must be JSON: {"seat_ids": [...]}') from exc
    seat_ids = body.get("seat_ids") if isinstance(body, dict) else None
    if (
        not isinstance(seat_ids, list)
        or len(seat_ids) > _MAX_SEATS
        or not all(isinstance(s, str) for s in seat_ids)
    ):
        raise BadInput("seat_ids must be a list of seat ids.")
    try:
        result = await gateway(request).call(
            "POST",
            f"/api/bookings/seats/{action}",
            tok,
            json={"showtime_id": str(showtime_id), "seat_ids": seat_ids},
        )
    except ApiError as exc:
        # `seat_ids` only when someone else has the seats: the page then greys them out; any
        # other refusal (e.g. the fair-share cap) is only explained.
        answer = error_body(exc.status_code, exc.error_type, exc.detail)
        if exc.seat_ids is not None:
            answer["seat_ids"] = exc.seat_ids
        return JSONResponse(answer, status_code=exc.status_code)
    return JSONResponse(result or {})


@router.post("/showtimes/{showtime_id}/book")
async def book(
    request: Request, showtime_id: uuid.UUID, seat_ids: Annotated[list[str] | None, Form()] = None
) -> Response:
    tok = _require_token(request)
    if not seat_ids:
        return redirect(request, f"/showtimes/{showtime_id}", error="Pick at least one seat.")
    try:
        booking = await gateway(request).call(
            "POST",
            "/api/bookings/book",
            tok,
            json={"showtime_id": str(showtime_id), "seat_ids": seat_ids},
        )
    except ApiError as exc:
        if exc.status_code == 401:
            raise
        return redirect(request, f"/showtimes/{showtime_id}", error=exc.detail)
    return redirect(
        request, f"/bookings/{booking['id']}", notice="Seats booked: pay to confirm them."
    )


@router.get("/bookings", response_class=HTMLResponse)
async def my_bookings(request: Request) -> Response:
    tok = _require_token(request)
    bookings = await gateway(request).call(
        "GET", "/api/bookings/bookings", tok, params={"limit": 200}
    )
    return await render(request, "bookings.html", bookings=bookings)


@router.get("/bookings/{booking_id}", response_class=HTMLResponse)
async def ticket(request: Request, booking_id: uuid.UUID) -> Response:
    tok = _require_token(request)
    booking = await gateway(request).call("GET", f"/api/bookings/bookings/{booking_id}", tok)
    qr = qr_data_uri(booking["booking_code"]) if booking["status"] == "confirmed" else None
    # One key per rendered form: a double-submitted form is one payment, never two.
    return await render(
        request, "booking.html", booking=booking, qr=qr, idempotency_key=uuid.uuid4().hex
    )


@router.post("/bookings/{booking_id}/pay")
async def pay(
    request: Request,
    booking_id: uuid.UUID,
    idempotency_key: Annotated[str, Form()],
    payment_method: Annotated[str, Form()] = "credit_card",
    card: Annotated[str, Form()] = "tok_visa",
) -> Response:
    tok = _require_token(request)
    if not _IDEMPOTENCY_KEY.fullmatch(idempotency_key):
        raise BadInput("This payment form is damaged: reload the booking and pay again.")
    api = gateway(request)
    booking = await api.call("GET", f"/api/bookings/bookings/{booking_id}", tok)
    try:
        await api.call(
            "POST",
            "/api/payments/process",
            tok,
            headers={"Idempotency-Key": idempotency_key},
            json={
                "booking_id": str(booking_id),
                "payment_method": payment_method,
                "amount": str(booking["total_price"]),
                "payment_token": card,
            },
        )
    except ApiError as exc:
        if exc.status_code == 401:
            raise
        return redirect(request, f"/bookings/{booking_id}", error=f"Payment failed: {exc.detail}")
    return redirect(
        request, f"/bookings/{booking_id}", notice="Payment received: your ticket is ready."
    )


@router.post("/bookings/{booking_id}/cancel")
async def cancel(request: Request, booking_id: uuid.UUID) -> Response:
    tok = _require_token(request)
    try:
        await gateway(request).call("POST", f"/api/bookings/bookings/{booking_id}/cancel", tok)
    except ApiError as exc:
        if exc.status_code == 401:
            raise
        return redirect(request, f"/bookings/{booking_id}", error=exc.detail)
    return redirect(request, f"/bookings/{booking_id}", notice="Booking cancelled.")


@router.get("/notifications", response_class=HTMLResponse)
async def notifications(request: Request) -> Response:
    tok = _require_token(request)
    items = await gateway(request).call("GET", "/api/notifications/notifications", tok)
    return await render(request, "notifications.html", notifications=items)


@router.post("/notifications/{notification_id}/read")
async def mark_read(request: Request, notification_id: uuid.UUID) -> Response:
    tok = _require_token(request)
    await gateway(request).call(
        "POST", f"/api/notifications/notifications/{notification_id}/read", tok
    )
    return redirect(request, "/notifications")


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str = "/") -> Response:
    return await render(request, "login.html", next=next)


@router.post("/login")
async def login(
    request: Request,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
) -> Response:
    try:
        result = await gateway(request).call(
            "POST", "/api/auth/token", data={"username": username, "password": password}
        )
    except ApiError as exc:
        return await render(
            request,
            "login.html",
            status_code=exc.status_code,
            next=next,
            error="Wrong e-mail/username or password."
            if exc.status_code in (400, 401)
            else exc.detail,
            username=username,
        )
    # Only local paths: a login link must not bounce the visitor to another site (browsers
    # read "/\\host" as "//host").
    local = next.startswith("/") and not next.startswith("//") and "\\" not in next
    response = redirect(request, next if local else "/")
    log_in(request, response, result)
    return response


@router.get("/register", response_class=HTMLResponse)
async def register_page(request: Request) -> Response:
    return await render(request, "register.html", form={})


@router.post("/register")
async def register(
    request: Request,
    email: Annotated[str, Form()],
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    full_name: Annotated[str, Form()] = "",
) -> Response:
    form = {"email": email, "username": username, "full_name": full_name}
    api = gateway(request)
    try:
        await api.call(
            "POST",
            "/api/auth/register",
            json={**form, "password": password, "full_name": full_name or None},
        )
        result = await api.call(
            "POST", "/api/auth/token", data={"username": email, "password": password}
        )
    except ApiError as exc:
        return await render(
            request, "register.html", status_code=exc.status_code, form=form, error=exc.detail
        )
    response = redirect(request, "/", notice="Welcome to boxoffice!")
    log_in(request, response, result)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    tok = token(request)
    if tok:
        try:
            await gateway(request).call("POST", "/api/auth/logout", tok)
        except ApiError:
            pass  # the token is dead already; forgetting the cookie is all that is left
    response = redirect(request, "/", notice="You are logged out.")
    log_out(request, response)
    return response


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
    tok = _require_token(request)
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


@router.get("/check-in", response_class=HTMLResponse)
async def check_in_page(request: Request) -> Response:
    return await render(request, "checkin.html", result=None)


@router.post("/check-in", response_class=HTMLResponse)
async def check_in(request: Request, booking_code: Annotated[str, Form()]) -> Response:
    tok = _require_token(request)
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


@router.get("/static/posters/{slug}.svg")
async def poster(slug: str) -> Response:
    """A drawn poster for catalog entries without an image of their own."""
    return Response(
        poster_svg(slug),
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400"},
    )
