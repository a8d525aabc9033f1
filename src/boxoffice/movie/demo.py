"""The demo catalog: movies, three theaters in Hanoi and Ho Chi Minh City, a week of showtimes.

Only showtimes that have not started yet are added (a load late in the day skips the day's
earlier slots): nobody is offered a show in the past.

Loading is idempotent and safe to run from two processes at once: every row has a stable
uuid5 id and is inserted only when missing (ON CONFLICT DO NOTHING), so a second load, or a
concurrent one, adds nothing; an admin's later edits of demo rows are kept.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from boxoffice.core.app import ServiceContext
from boxoffice.core.db import utcnow
from boxoffice.core.localtime import local_now, starts_at
from boxoffice.movie.cache import CatalogCache
from boxoffice.movie.demo_catalog import MOVIES, PRICES, SLOTS, THEATERS, DemoMovie
from boxoffice.movie.layout import layout_seats
from boxoffice.movie.models import Theater
from boxoffice.movie.repository import MovieRepository, ShowtimeRepository, TheaterRepository
from boxoffice.movie.schedule import overlapping

DEMO = uuid.UUID("7d1f4f3e-56a1-4b53-9d51-3b0c2a3f9a10")
# The demo theaters are in Vietnam, whatever THEATER_TIMEZONE says for new ones.
VIETNAM = "Asia/Ho_Chi_Minh"
DAYS = 7


def _id(kind: str, key: str) -> uuid.UUID:
    return uuid.uuid5(DEMO, f"{kind}:{key}")


def _row(obj: Any) -> dict[str, Any]:
    """The column values set on a transient object (unset ones take their column default)."""
    values = {c.key: getattr(obj, c.key) for c in obj.__table__.columns}
    return {k: v for k, v in values.items() if v is not None}


def _movie_rows() -> list[dict[str, Any]]:
    return [
        {
            "id": _id("movie", m.slug),
            "title": m.title,
            "description": m.description,
            "duration_minutes": m.duration_minutes,
            "genre": m.genre,
            "language": m.language,
            "rating": m.rating,
            "release_date": m.release_date,
            "poster_url": f"/static/posters/{m.slug}.svg",
            "director": m.director,
            "is_active": True,
        }
        for m in MOVIES
    ]


def _theaters() -> list[Theater]:
    return [
        Theater(
            id=_id("theater", t.key),
            name=t.name,
            location=t.location,
            city=t.city,
            rows=t.rows,
            seats_per_row=t.seats_per_row,
            vip_rows=list(t.vip_rows),
            aisles_after=list(t.aisles_after),
            total_seats=t.rows * t.seats_per_row,
            timezone=VIETNAM,
        )
        for t in THEATERS
    ]


def _schedule(index: int, theater: Theater, first_day: dt.date) -> list[tuple[DemoMovie, dict]]:
    """A theater's rotating programme, four shows a day for DAYS days, with each show's movie."""
    shows = []
    for d in range(DAYS):
        day = first_day + dt.timedelta(days=d)
        weekend = day.weekday() >= 5
        for s_index, slot in enumerate(SLOTS):
            # The programme depends on the date, not on the first day, so loads on different
            # days agree on the showtimes they share.
            movie = MOVIES[(index * 3 + day.toordinal() + s_index) % len(MOVIES)]
            row = {
                "id": _id("showtime", f"{theater.id}:{day}:{slot}"),
                "movie_id": _id("movie", movie.slug),
                "theater_id": theater.id,
                "show_date": day,
                "show_time": slot,
                "starts_at": starts_at(day, slot, theater.timezone),
                "price": PRICES[(weekend, slot)],
                "total_seats": theater.total_seats,
                "enforce_seat_rules": False,
            }
            shows.append((movie, row))
    return shows


def today_in_vietnam() -> dt.date:
    return local_now(VIETNAM).date()


async def load_demo_data(
    ctx: ServiceContext, *, first_day: dt.date | None = None
) -> dict[str, int]:
    """Insert whatever of the demo catalog is missing; returns the catalog's row counts."""
    first_day = first_day or today_in_vietnam()
    theaters = _theaters()
    async with ctx.db.sessionmaker() as session, session.begin():
        movies = MovieRepository(session)
        theater_rows = TheaterRepository(session)
        showtime_rows = ShowtimeRepository(session)
        await movies.insert_missing(_movie_rows())
        await theater_rows.insert_missing([_row(t) for t in theaters])
        await theater_rows.insert_missing_seats(
            [_row(s) for t in theaters for s in layout_seats(t)]
        )
        showtimes = []
        now = utcnow()
        for index, theater in enumerate(theaters):
            # A slot an admin has already scheduled something into is left to the admin.
            booked = await showtime_rows.screenings_between(
                theater.id,
                first_day - dt.timedelta(days=1),
                first_day + dt.timedelta(days=DAYS),
            )
            for movie, row in _schedule(index, theater, first_day):
                if row["starts_at"] <= now:
                    continue
                start = dt.datetime.combine(row["show_date"], row["show_time"])
                others = [b for b in booked if b.id != row["id"]]
                if overlapping(start, movie.duration_minutes, others) is None:
                    showtimes.append(row)
        await showtime_rows.insert_missing(showtimes)
        counts = {
            "movies": await movies.count(),
            "theaters": await theater_rows.count(),
            "seats": await theater_rows.count_seats(),
            "showtimes": await showtime_rows.count(),
        }
    await CatalogCache(ctx.runtime.cache).invalidate("movies", "theaters", "showtimes")
    return counts


async def load_demo_data_if_enabled(ctx: ServiceContext) -> None:
    """Startup hook: the demo catalog when BOXOFFICE_DEMO_DATA is on (embedded mode's default)."""
    if ctx.settings.demo_data_enabled:
        await load_demo_data(ctx)
