"""Finding a movie and picking seats: the catalog, the seat map and its hold/release calls."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from boxoffice.core.errors import error_body
from boxoffice.web.errors import BadInput, require_token
from boxoffice.web.gateway import ApiError
from boxoffice.web.pages import (
    gateway,
    redirect,
    render,
    token,
)
from boxoffice.web.posters import poster_svg

# What the seat map sends at most in one hold or release.
_MAX_SEATS = 100

router = APIRouter(include_in_schema=False)


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
    tok = require_token(request)
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


@router.get("/static/posters/{slug}.svg")
async def poster(slug: str) -> Response:
    """A drawn poster for catalog entries without an image of their own."""
    return Response(
        poster_svg(slug),
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400"},
    )
