"""Movie service routes (design 4.2): the catalog, theater layouts, showtimes and seat maps."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response, status
from pydantic import AfterValidator, StringConstraints

from boxoffice.core.app import Context, DbSession
from boxoffice.core.auth import AdminUser, OptionalUser
from boxoffice.core.errors import NotAuthenticated, PermissionDenied, responses
from boxoffice.core.pagination import Limit, Offset
from boxoffice.movie import seatmap
from boxoffice.movie.cache import CatalogCache, PendingInvalidations
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
from boxoffice.movie.repository import Page
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
from boxoffice.movie.service import MovieCatalog, ShowtimeFilters

router = APIRouter()

ADMIN_ERRORS = (NotAuthenticated, PermissionDenied)
SearchText = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(storable)]
# The admin's catalog lists what is deactivated too; nothing in it is secret.
IncludeInactive = Annotated[
    bool, Query(description="Also list what is deactivated (the admin's catalog)")
]


async def _pending_invalidations(ctx: Context) -> AsyncIterator[PendingInvalidations]:
    pending = PendingInvalidations(CatalogCache(ctx.runtime.cache))
    yield pending
    # Reached only when the request succeeded.
    await pending.flush()


# `pending` is declared before the session on purpose: dependencies exit in reverse order, so
# the cache is invalidated only after the session has committed. Invalidating earlier would
# let a concurrent reader load the old rows into the new cache version.
async def _catalog(
    pending: Annotated[PendingInvalidations, Depends(_pending_invalidations, scope="function")],
    session: DbSession,
    ctx: Context,
) -> MovieCatalog:
    return MovieCatalog(session, pending.catalog, pending, ctx.settings.theater_timezone)


Catalog = Annotated[MovieCatalog, Depends(_catalog)]


async def _page(
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page:
    return Page(limit=limit, offset=offset)


Paging = Annotated[Page, Depends(_page)]


def _json(body: str) -> Response:
    return Response(content=body, media_type="application/json")


# Movies


@router.get("/movies", response_model=list[MovieOut], responses=responses(), tags=["movies"])
async def list_movies(
    catalog: Catalog,
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
        await catalog.movies(
            q=q, genre=genre, language=language, page=page, include_inactive=include_inactive
        )
    )


@router.get(
    "/movies/{movie_id}",
    response_model=MovieOut,
    responses=responses(MovieNotFound),
    tags=["movies"],
)
async def get_movie(movie_id: uuid.UUID, catalog: Catalog) -> Response:
    """One movie, also when it is no longer showing (bookings still refer to it)."""
    return _json(await catalog.movie(movie_id))


@router.post(
    "/movies",
    response_model=MovieOut,
    status_code=status.HTTP_201_CREATED,
    responses=responses(*ADMIN_ERRORS),
    tags=["movies"],
)
async def create_movie(body: MovieCreate, catalog: Catalog, _: AdminUser) -> MovieOut:
    """Add a movie to the catalog (admin)."""
    return await catalog.create_movie(body)


@router.put(
    "/movies/{movie_id}",
    response_model=MovieOut,
    responses=responses(*ADMIN_ERRORS, MovieNotFound),
    tags=["movies"],
)
async def update_movie(
    movie_id: uuid.UUID, body: MovieUpdate, catalog: Catalog, _: AdminUser
) -> MovieOut:
    """Change a movie's details (admin); fields left out stay as they are."""
    return await catalog.update_movie(movie_id, body)


@router.delete(
    "/movies/{movie_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=responses(*ADMIN_ERRORS, MovieNotFound),
    tags=["movies"],
)
async def deactivate_movie(movie_id: uuid.UUID, catalog: Catalog, _: AdminUser) -> Response:
    """Take a movie off the listings (admin); it is kept for the bookings that refer to it."""
    await catalog.deactivate_movie(movie_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# Theaters and seats


@router.get("/theaters", response_model=list[TheaterOut], responses=responses(), tags=["theaters"])
async def list_theaters(
    catalog: Catalog,
    page: Paging,
    city: Annotated[SearchText | None, Query(max_length=100)] = None,
    include_inactive: IncludeInactive = False,
) -> Response:
    """Active theaters, optionally of one city."""
    return _json(await catalog.theaters(city=city, page=page, include_inactive=include_inactive))


@router.get(
    "/theaters/{theater_id}",
    response_model=TheaterOut,
    responses=responses(TheaterNotFound),
    tags=["theaters"],
)
async def get_theater(theater_id: uuid.UUID, catalog: Catalog) -> Response:
    """One theater and its layout."""
    return _json(await catalog.theater(theater_id))


@router.post(
    "/theaters",
    response_model=TheaterOut,
    status_code=status.HTTP_201_CREATED,
    responses=responses(*ADMIN_ERRORS),
    tags=["theaters"],
)
async def create_theater(body: TheaterCreate, catalog: Catalog, _: AdminUser) -> TheaterOut:
    """Add a theater and create its seats from the layout (admin)."""
    return await catalog.create_theater(body)


@router.put(
    "/theaters/{theater_id}",
    response_model=TheaterOut,
    responses=responses(*ADMIN_ERRORS, TheaterNotFound, TheaterInUse),
    tags=["theaters"],
)
async def update_theater(
    theater_id: uuid.UUID, body: TheaterUpdate, catalog: Catalog, _: AdminUser
) -> TheaterOut:
    """Change a theater's name, address, city or active flag (admin); its time zone only while
    it has no showtimes (409). The seat layout never changes."""
    return await catalog.update_theater(theater_id, body)


@router.delete(
    "/theaters/{theater_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=responses(*ADMIN_ERRORS, TheaterNotFound),
    tags=["theaters"],
)
async def deactivate_theater(theater_id: uuid.UUID, catalog: Catalog, _: AdminUser) -> Response:
    """Take a theater and its showtimes off the listings (admin); kept for their bookings."""
    await catalog.deactivate_theater(theater_id)
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
    catalog: Catalog,
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
    return _json(await catalog.showtimes(filters, page))


@router.get(
    "/showtimes/{showtime_id}",
    response_model=ShowtimeOut,
    responses=responses(ShowtimeNotFound),
    tags=["showtimes"],
)
async def get_showtime(showtime_id: uuid.UUID, catalog: Catalog) -> Response:
    """One showtime with its movie title, theater and city, also once it has started."""
    return _json(await catalog.showtime(showtime_id))


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
async def create_showtime(body: ShowtimeCreate, catalog: Catalog, _: AdminUser) -> ShowtimeOut:
    """Schedule a showtime (admin); its capacity is the theater's. Refused (409) when the movie
    is not showing, the theater is deactivated or another showtime runs in it at that time,
    and (400) when it would start in the past in the theater's time zone."""
    return await catalog.create_showtime(body)


@router.put(
    "/showtimes/{showtime_id}",
    response_model=ShowtimeOut,
    responses=responses(
        *ADMIN_ERRORS, ShowtimeNotFound, ShowtimeHasBookings, ShowtimeOverlaps, ShowtimeInPast
    ),
    tags=["showtimes"],
)
async def update_showtime(
    showtime_id: uuid.UUID, body: ShowtimeUpdate, catalog: Catalog, _: AdminUser
) -> ShowtimeOut:
    """Change a showtime (admin): the price (for bookings made from now on), the seat rules,
    the active flag; the date and time only while none of its seats is booked (409), under a
    new showtime's rules (in the future, no overlap)."""
    return await catalog.update_showtime(showtime_id, body)


@router.delete(
    "/showtimes/{showtime_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=responses(*ADMIN_ERRORS, ShowtimeNotFound),
    tags=["showtimes"],
)
async def deactivate_showtime(showtime_id: uuid.UUID, catalog: Catalog, _: AdminUser) -> Response:
    """Take a showtime off the listings and off sale (admin); its bookings stay valid."""
    await catalog.deactivate_showtime(showtime_id)
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
