"""Factory functions: catalog rows made through the API, as an admin would."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import httpx

_counter = itertools.count(1)


def future_day(days: int = 3) -> str:
    return (dt.date.today() + dt.timedelta(days=days)).isoformat()


async def create_movie(api: httpx.AsyncClient, admin: dict[str, str], **fields: Any) -> dict:
    body = {
        "title": f"Movie {next(_counter)}",
        "description": "A film.",
        "duration_minutes": 120,
        "genre": "Drama",
        "language": "English",
        "rating": "PG-13",
        "release_date": "2024-01-15",
        "poster_url": "/static/posters/a-film.svg",
        "director": "Some Director",
        **fields,
    }
    response = await api.post("/api/movies/movies", json=body, headers=admin)
    assert response.status_code == 201, response.text
    return response.json()


async def create_theater(api: httpx.AsyncClient, admin: dict[str, str], **fields: Any) -> dict:
    body = {
        "name": f"Hall {next(_counter)}",
        "location": "1 Tràng Tiền",
        "city": "Hanoi",
        "rows": 5,
        "seats_per_row": 8,
        **fields,
    }
    response = await api.post("/api/movies/theaters", json=body, headers=admin)
    assert response.status_code == 201, response.text
    return response.json()


async def create_showtime(
    api: httpx.AsyncClient,
    admin: dict[str, str],
    movie: dict,
    theater: dict,
    **fields: Any,
) -> dict:
    body = {
        "movie_id": movie["id"],
        "theater_id": theater["id"],
        "show_date": future_day(),
        "show_time": "19:00:00",
        "price": "120000.00",
        **fields,
    }
    response = await api.post("/api/movies/showtimes", json=body, headers=admin)
    assert response.status_code == 201, response.text
    return response.json()
