"""Dependencies of the movie routes: the service, the rows a path names (or their 404), paging.

Who may change the catalog is core's `AdminUser`; a route declares it before a path-id
dependency, so a caller who may not is refused (401, 403) before anything is looked up.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends

from boxoffice.core.app import Context, DbSession
from boxoffice.core.pagination import Limit, Offset
from boxoffice.movie.models import Movie, Showtime, Theater
from boxoffice.movie.repository import Page
from boxoffice.movie.service import MovieService


async def _service(session: DbSession, ctx: Context) -> MovieService:
    return MovieService.from_context(ctx, session)


Service = Annotated[MovieService, Depends(_service)]


async def _movie(movie_id: uuid.UUID, service: Service) -> Movie:
    return await service.find_movie(movie_id)


async def _theater(theater_id: uuid.UUID, service: Service) -> Theater:
    return await service.find_theater(theater_id)


async def _showtime(showtime_id: uuid.UUID, service: Service) -> Showtime:
    return await service.find_showtime(showtime_id)


MovieById = Annotated[Movie, Depends(_movie)]
"""The movie `{movie_id}` names; 404 (MovieNotFound) when there is none."""
TheaterById = Annotated[Theater, Depends(_theater)]
"""The theater `{theater_id}` names; 404 (TheaterNotFound) when there is none."""
ShowtimeById = Annotated[Showtime, Depends(_showtime)]
"""The showtime `{showtime_id}` names; 404 (ShowtimeNotFound) when there is none."""


async def _page(
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page:
    return Page(limit=limit, offset=offset)


Paging = Annotated[Page, Depends(_page)]
