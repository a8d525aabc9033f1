"""Finding a movie and picking seats: the catalog, the seat map and its hold/release calls."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field, field_validator

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


class Search(BaseModel):
    """The home page's search form; a field left empty is no filter."""

    q: str = Field("", max_length=100)
    genre: str = Field("", max_length=100)
    language: str = Field("", max_length=50)
    city: str = Field("", max_length=100)
    date: dt.date | None = None

    @field_validator("q", "genre", "language", "city", mode="before")
    @classmethod
    def _trimmed(cls, value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value

    @field_validator("date", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        # An empty date field is sent as `date=`: no date, not a malformed one.
        return None if value == "" else value


@dataclass
class _Facets:
    """What the search form offers, from the whole catalog (not the current results)."""

    genres: list[str]
    languages: list[str]
    cities: list[str]
    until: float


# Kept half a minute by the site: the choices change only when an admin edits the catalog, and
# fetching them on every home page view would spend the visitor's API allowance twice more.
_FACETS_SECONDS = 30.0


async def catalog_facets(request: Request) -> _Facets:
    api = gateway(request)
    cached: _Facets | None = getattr(request.app.state, "catalog_facets", None)
    if cached and cached.until > time.monotonic():
        return cached
    movies = await api.call("GET", "/api/movies/movies", params={"limit": 200})
    theaters = await api.call("GET", "/api/movies/theaters", params={"limit": 200})
    facets = _Facets(
        genres=sorted({m["genre"] for m in movies if m.get("genre")}),
        languages=sorted({m["language"] for m in movies if m.get("language")}),
        cities=sorted({t["city"] for t in theaters if t.get("city")}),
        until=time.monotonic() + _FACETS_SECONDS,
    )
    request.app.state.catalog_facets = facets
    return facets


# Showtimes read at most to find the movies playing in a city or on a day (5 pages of 200).
_SHOWTIME_PAGES = 5


async def movies_playing(request: Request, city: str, date: dt.date | None) -> set[str]:
    """The ids of the movies with a showtime still to come in `city` and/or on `date`."""
    params: dict[str, Any] = {"limit": 200}
    if city:
        params["city"] = city
    if date:
        params["date"] = date.isoformat()
    ids: set[str] = set()
    for page in range(_SHOWTIME_PAGES):
        shows = await gateway(request).call(
            "GET", "/api/movies/showtimes", params={**params, "offset": page * 200}
        )
        ids.update(str(s["movie_id"]) for s in shows)
        if len(shows) < 200:
            break
    return ids


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, search: Annotated[Search, Query()]) -> Response:
    params = {
        k: v
        for k, v in {"q": search.q, "genre": search.genre, "language": search.language}.items()
        if v
    }
    movies = await gateway(request).call(
        "GET", "/api/movies/movies", params={**params, "limit": 200}
    )
    if search.city or search.date:
        playing = await movies_playing(request, search.city, search.date)
        movies = [m for m in movies if str(m["id"]) in playing]
    facets = await catalog_facets(request)
    return await render(request, "home.html", movies=movies, search=search, facets=facets)


@router.get("/movies/{movie_id}", response_class=HTMLResponse)
async def movie_page(request: Request, movie_id: uuid.UUID) -> Response:
    api = gateway(request)
    movie = await api.call("GET", f"/api/movies/movies/{movie_id}")
    showtimes = await api.call(
        "GET", "/api/movies/showtimes", params={"movie_id": str(movie_id), "limit": 200}
    )
    # Day → theater → its showtimes that day, in time order.
    days: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for show in sorted(
        showtimes, key=lambda s: (s["show_date"], s["theater_name"], s["show_time"])
    ):
        days[show["show_date"]][show["theater_name"]].append(show)
    return await render(
        request,
        "movie.html",
        movie=movie,
        days={day: dict(theaters) for day, theaters in days.items()},
    )


@router.get("/showtimes/{showtime_id}", response_class=HTMLResponse)
async def seat_map(request: Request, showtime_id: uuid.UUID) -> Response:
    api = gateway(request)
    show = await api.call("GET", f"/api/movies/showtimes/{showtime_id}")
    seats = await api.call(
        "GET", f"/api/movies/showtimes/{showtime_id}/available-seats", token(request)
    )
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for seat in sorted(
        seats["seats"], key=lambda s: (len(s["seat_row"]), s["seat_row"], s["seat_number"])
    ):
        rows[seat["seat_row"]].append(seat)
    # What a seat of each type costs: booking charges `vip_price` for VIP seats when the
    # showtime has one, else every seat costs `price` (booking/movie_client.py).
    prices = {"standard": show["price"], "vip": show.get("vip_price") or show["price"]}
    return await render(
        request,
        "showtime.html",
        show=show,
        rows=dict(rows),
        available=seats["available_count"],
        prices=prices,
    )


def _seat_request(action: str, body: Any) -> dict[str, Any]:
    """What the seat map sends for `action`, checked: seat ids to hold or release, or how many
    of the best seats to hold (`hold-best`)."""
    if action == "hold-best":
        count = body.get("count") if isinstance(body, dict) else None
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= _MAX_SEATS:
            raise BadInput(f"count must be a whole number from 1 to {_MAX_SEATS}.")
        return {"count": count}
    seat_ids = body.get("seat_ids") if isinstance(body, dict) else None
    if (
        not isinstance(seat_ids, list)
        or len(seat_ids) > _MAX_SEATS
        or not all(isinstance(s, str) for s in seat_ids)
    ):
        raise BadInput("seat_ids must be a list of seat ids.")
    return {"seat_ids": seat_ids}


@router.post("/showtimes/{showtime_id}/seats/{action}")
async def hold_or_release(request: Request, showtime_id: uuid.UUID, action: str) -> Response:
    """What the seat map's script calls on every click (hold or release) and for its "Best
    seats" button (hold-best: the API picks and holds in one step), through the API."""
    if action not in ("hold", "release", "hold-best"):
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
    wanted = _seat_request(action, body)
    try:
        result = await gateway(request).call(
            "POST",
            f"/api/bookings/seats/{action}",
            tok,
            json={"showtime_id": str(showtime_id), **wanted},
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
