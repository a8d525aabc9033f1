"""The events the movie service publishes (docs/contracts.md): a movie, theater or showtime
changed, so other services drop what they keep of it. Each names only the id."""

from __future__ import annotations

import uuid
from typing import ClassVar

from boxoffice.core.events import EventPayload
from boxoffice.movie.models import Movie, Showtime, Theater


class MovieUpdated(EventPayload):
    """A movie was changed or deactivated."""

    event_name: ClassVar[str] = "movie.updated"
    movie_id: uuid.UUID


class TheaterUpdated(EventPayload):
    """A theater was changed (or deactivated)."""

    event_name: ClassVar[str] = "theater.updated"
    theater_id: uuid.UUID


class ShowtimeUpdated(EventPayload):
    """A showtime was changed (or deactivated)."""

    event_name: ClassVar[str] = "showtime.updated"
    showtime_id: uuid.UUID


def movie_updated(movie: Movie) -> MovieUpdated:
    return MovieUpdated(movie_id=movie.id)


def theater_updated(theater: Theater) -> TheaterUpdated:
    return TheaterUpdated(theater_id=theater.id)


def showtime_updated(showtime: Showtime) -> ShowtimeUpdated:
    return ShowtimeUpdated(showtime_id=showtime.id)
