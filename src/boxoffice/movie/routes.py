"""Movie service routes (design 4.2): the catalog, theater layouts, showtimes and seat maps."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response, status
from pydantic import AfterValidator, StringConstraints

from boxoffice.core.app import Context
from boxoffice.core.auth import AdminUser, OptionalUser
from boxoffice.core.errors import NotAuthenticated, PermissionDenied, responses
from boxoffice.movie import seatmap
from boxoffice.movie.deps import MovieById, Paging, Service, ShowtimeById, TheaterById
from boxoffice.movie.errors import (
    MovieNotFound,
    MovieNotShowing,
    SeatStatusUnavailable,
    ShowtimeHasBookings,
    ShowtimeInPast,
    ShowtimeNotFound,
    ShowtimeOverlaps,
    TheaterInUse,
    TheaterNotActive,
    TheaterNotFound,
)
from boxoffice.movie.schemas import (
    AvailableSeats,
    MovieCreate,
    MovieOut,
    MovieUpdate,
    SeatOut,
    ShowtimeCreate,
    ShowtimeOut,
    ShowtimeUpdate,
    TheaterCreate,
    TheaterOut,
    TheaterUpdate,
    storable,
)
from boxoffice.movie.service import ShowtimeFilters

router = APIRouter()

ADMIN_ERRORS = (NotAuthenticated, PermissionDenied)
SearchText = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(storable)]
# The admin's catalog lists what is deactivated too; nothing in it is secret.
IncludeInactive = Annotated[
    bool, Query(description="Also list what is deactivated (the admin's catalog)")
]


def _json(body: str) -> Response:
    return Response(content=body, media_type="application/json")


# Movies


@router.get("/movies", response_model=list[MovieOut], responses=responses(), tags=["movies"])
async def list_movies(
    service: Service,
    page: Paging,
    q: Annotated[
        SearchText | None,
        Query(max_length=100, description="Words in the title, description or director"),
    ] = None,
    genre: Annotated[SearchText | None, Query(max_length=100)] = None,
    language: Annotated[SearchText | None, Query(max_length=50)] = None,
    include_inactive: IncludeInactive = False,
) -> Response:
    """Movies now showing, filtered (case-insensitively) and paged."""
    return _json(
        await service.movies(
            q=q, genre=genre, language=language, page=page, include_inactive=include_inactive
        )
    )


@router.get(
    "/movies/{movie_id}",
    response_model=MovieOut,
    responses=responses(MovieNotFound),
    tags=["movies"],
)
async def get_movie(movie_id: uuid.UUID, service: Service) -> Response:
    """One movie, also when it is no longer showing (bookings still refer to it)."""
    return _json(await service.movie(movie_id))


@router.post(
    "/movies",
    response_model=MovieOut,
    status_code=status.HTTP_201_CREATED,
    responses=responses(*ADMIN_ERRORS),
    tags=["movies"],
)
async def create_movie(body: MovieCreate, service: Service, _: AdminUser) -> MovieOut:
    """Add a movie to the catalog (admin)."""
    return await service.create_movie(body)


@router.put(
    "/movies/{movie_id}",
    response_model=MovieOut,
    responses=responses(*ADMIN_ERRORS, MovieNotFound),
    tags=["movies"],
)
async def update_movie(
    _: AdminUser, movie: MovieById, body: MovieUpdate, service: Service
) -> MovieOut:
    """Change a movie's details (admin); fields left out stay as they are."""
    return await service.update_movie(movie, body)


@router.delete(
    "/movies/{movie_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=responses(*ADMIN_ERRORS, MovieNotFound),
    tags=["movies"],
)
async def deactivate_movie(_: AdminUser, movie: MovieById, service: Service) -> Response:
    """Take a movie off the listings (admin); it is kept for the bookings that refer to it."""
    await service.deactivate_movie(movie)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# Theaters and seats


@router.get("/theaters", response_model=list[TheaterOut], responses=responses(), tags=["theaters"])
async def list_theaters(
    service: Service,
    page: Paging,
    city: Annotated[SearchText | None, Query(max_length=100)] = None,
    include_inactive: IncludeInactive = False,
) -> Response:
    """Active theaters, optionally of one city."""
    return _json(await service.theaters(city=city, page=page, include_inactive=include_inactive))


@router.get(
    "/theaters/{theater_id}",
    response_model=TheaterOut,
    responses=responses(TheaterNotFound),
    tags=["theaters"],
)
async def get_theater(theater_id: uuid.UUID, service: Service) -> Response:
    """One theater and its layout."""
    return _json(await service.theater(theater_id))


@router.post(
    "/theaters",
    response_model=TheaterOut,
    status_code=status.HTTP_201_CREATED,
    responses=responses(*ADMIN_ERRORS),
    tags=["theaters"],
)
async def create_theater(body: TheaterCreate, service: Service, _: AdminUser) -> TheaterOut:
    """Add a theater and create its seats from the layout (admin)."""
    return await service.create_theater(body)


@router.put(
    "/theaters/{theater_id}",
    response_model=TheaterOut,
    responses=responses(*ADMIN_ERRORS, TheaterNotFound, TheaterInUse),
    tags=["theaters"],
)
async def update_theater(
    _: AdminUser, theater: TheaterById, body: TheaterUpdate, service: Service
) -> TheaterOut:
    """Change a theater's name, address, city or active flag (admin); its time zone only while
    it has no showtimes (409). The seat layout never changes."""
    return await service.update_theater(theater, body)


@router.delete(
    "/theaters/{theater_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=responses(*ADMIN_ERRORS, TheaterNotFound),
    tags=["theaters"],
)
async def deactivate_theater(_: AdminUser, theater: TheaterById, service: Service) -> Response:
    """Take a theater and its showtimes off the listings (admin); kept for their bookings."""
    await service.deactivate_theater(theater)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/seats/{theater_id}",
    response_model=list[SeatOut],
    responses={**responses(TheaterNotFound), 304: {"description": "Not modified (ETag)"}},
    tags=["theaters"],
)
async def list_seats(
    theater_id: uuid.UUID,
    ctx: Context,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """Every seat of a theater, by row then number. A layout never changes once it has seats,
    so it carries an ETag and may be cached for a day."""
    layout = await seatmap.maps_of(ctx).layout(ctx.db, theater_id)
    headers = {"ETag": layout.etag, "Cache-Control": "public, max-age=86400"}
    if if_none_match is not None and layout.etag in if_none_match:
        return Response(status_code=304, headers=headers)
    return Response(layout.body, media_type="application/json", headers=headers)


# Showtimes


@router.get(
    "/showtimes", response_model=list[ShowtimeOut], responses=responses(), tags=["showtimes"]
)
async def list_showtimes(
    service: Service,
    page: Paging,
    movie_id: uuid.UUID | None = None,
    theater_id: uuid.UUID | None = None,
    show_date: Annotated[dt.date | None, Query(alias="date")] = None,
    city: Annotated[SearchText | None, Query(max_length=100)] = None,
    include_started: Annotated[
        bool, Query(description="Also list showtimes that have already started")
    ] = False,
    include_inactive: IncludeInactive = False,
) -> Response:
    """Showtimes of movies now showing that have not started yet (in their theater's time
    zone), by date and time."""
    filters = ShowtimeFilters(
        movie_id=movie_id,
        theater_id=theater_id,
        show_date=show_date,
        city=city,
        include_started=include_started,
        include_inactive=include_inactive,
    )
    return _json(await service.showtimes(filters, page))


@router.get(
    "/showtimes/{showtime_id}",
    response_model=ShowtimeOut,
    responses=responses(ShowtimeNotFound),
    tags=["showtimes"],
)
async def get_showtime(showtime_id: uuid.UUID, service: Service) -> Response:
    """One showtime with its movie title, theater and city, also once it has started."""
    return _json(await service.showtime(showtime_id))


@router.post(
    "/showtimes",
    response_model=ShowtimeOut,
    status_code=status.HTTP_201_CREATED,
    responses=responses(
        *ADMIN_ERRORS,
        MovieNotFound,
        TheaterNotFound,
        MovieNotShowing,
        TheaterNotActive,
        ShowtimeOverlaps,
        ShowtimeInPast,
    ),
    tags=["showtimes"],
)
async def create_showtime(body: ShowtimeCreate, service: Service, _: AdminUser) -> ShowtimeOut:
    """Schedule a showtime (admin); its capacity is the theater's. Refused (409) when the movie
    is not showing, the theater is deactivated or another showtime runs in it at that time,
    and (400) when it would start in the past in the theater's time zone."""
    return await service.create_showtime(body)


@router.put(
    "/showtimes/{showtime_id}",
    response_model=ShowtimeOut,
    responses=responses(
        *ADMIN_ERRORS, ShowtimeNotFound, ShowtimeHasBookings, ShowtimeOverlaps, ShowtimeInPast
    ),
    tags=["showtimes"],
)
async def update_showtime(
    _: AdminUser, showtime: ShowtimeById, body: ShowtimeUpdate, service: Service
) -> ShowtimeOut:
    """Change a showtime (admin): the price (for bookings made from now on), the seat rules,
    the active flag; the date and time only while none of its seats is booked (409), under a
    new showtime's rules (in the future, no overlap)."""
    return await service.update_showtime(showtime, body)


@router.delete(
    "/showtimes/{showtime_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=responses(*ADMIN_ERRORS, ShowtimeNotFound),
    tags=["showtimes"],
)
async def deactivate_showtime(_: AdminUser, showtime: ShowtimeById, service: Service) -> Response:
    """Take a showtime off the listings and off sale (admin); its bookings stay valid."""
    await service.deactivate_showtime(showtime)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/showtimes/{showtime_id}/available-seats",
    response_model=AvailableSeats,
    responses=responses(ShowtimeNotFound, NotAuthenticated, SeatStatusUnavailable),
    tags=["showtimes"],
)
async def available_seats(showtime_id: uuid.UUID, ctx: Context, user: OptionalUser) -> Response:
    """Every seat with its live status: available, held, booked, or mine (with a token)."""
    body = await seatmap.available_seats(ctx, showtime_id, user)
    return Response(body, media_type="application/json", headers={"Cache-Control": "no-store"})
