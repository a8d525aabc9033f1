"""The demo catalog: movies, three theaters in Hanoi and Ho Chi Minh City, a week of showtimes.

Loading is idempotent and safe to run from two processes at once: every row has a stable
uuid5 id and is inserted only when missing (ON CONFLICT DO NOTHING), so a second load, or a
concurrent one, adds nothing; an admin's later edits of demo rows are kept.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from boxoffice.core.app import ServiceContext
from boxoffice.movie import repository as repo
from boxoffice.movie.cache import CatalogCache
from boxoffice.movie.models import Movie, Seat, Showtime, Theater
from boxoffice.movie.service import layout_seats, overlapping

DEMO = uuid.UUID("7d1f4f3e-56a1-4b53-9d51-3b0c2a3f9a10")
VIETNAM = dt.timezone(dt.timedelta(hours=7), "ICT")
DAYS = 7


def _id(kind: str, key: str) -> uuid.UUID:
    return uuid.uuid5(DEMO, f"{kind}:{key}")


@dataclass(frozen=True)
class DemoMovie:
    slug: str
    title: str
    description: str
    duration_minutes: int
    genre: str
    language: str
    rating: str
    release_date: dt.date
    director: str


MOVIES = (
    DemoMovie(
        "dune-part-two",
        "Dune: Part Two",
        "Paul Atreides unites with Chani and the Fremen while seeking revenge against the "
        "conspirators who destroyed his family.",
        166,
        "Sci-Fi",
        "English",
        "PG-13",
        dt.date(2024, 3, 1),
        "Denis Villeneuve",
    ),
    DemoMovie(
        "inside-out-2",
        "Inside Out 2",
        "Riley is a teenager now, and Headquarters makes room for some unexpected new emotions.",
        96,
        "Animation",
        "English",
        "PG",
        dt.date(2024, 6, 14),
        "Kelsey Mann",
    ),
    DemoMovie(
        "mai",
        "Mai",
        "A masseuse in Saigon with a painful past is drawn into a love she does not believe "
        "she deserves.",
        131,
        "Drama",
        "Vietnamese",
        "T18",
        dt.date(2024, 2, 10),
        "Trấn Thành",
    ),
    DemoMovie(
        "lat-mat-7",
        "Lật Mặt 7: Một Điều Ước",
        "Five grown children scattered across the country must decide who will care for "
        "their ageing mother.",
        138,
        "Drama",
        "Vietnamese",
        "K",
        dt.date(2024, 4, 26),
        "Lý Hải",
    ),
    DemoMovie(
        "oppenheimer",
        "Oppenheimer",
        "The story of J. Robert Oppenheimer and the making of the atomic bomb.",
        180,
        "Drama",
        "English",
        "R",
        dt.date(2023, 7, 21),
        "Christopher Nolan",
    ),
    DemoMovie(
        "spirited-away",
        "Spirited Away",
        "A girl wanders into a world of spirits and must work in a bathhouse to free her parents.",
        125,
        "Animation",
        "Japanese",
        "PG",
        dt.date(2001, 7, 20),
        "Hayao Miyazaki",
    ),
    DemoMovie(
        "parasite",
        "Parasite",
        "A poor family schemes its way into the household of a wealthy one, until a secret "
        "in the basement surfaces.",
        132,
        "Thriller",
        "Korean",
        "R",
        dt.date(2019, 5, 30),
        "Bong Joon-ho",
    ),
    DemoMovie(
        "the-wild-robot",
        "The Wild Robot",
        "A shipwrecked robot learns to survive on a wild island and raises an orphaned gosling.",
        102,
        "Animation",
        "English",
        "PG",
        dt.date(2024, 9, 27),
        "Chris Sanders",
    ),
)


@dataclass(frozen=True)
class DemoTheater:
    key: str
    name: str
    location: str
    city: str
    rows: int
    seats_per_row: int
    vip_rows: tuple[str, ...]
    aisles_after: tuple[int, ...]


THEATERS = (
    DemoTheater(
        "hanoi-ba-trieu",
        "Boxoffice Bà Triệu — Hall 1",
        "191 Bà Triệu, Hai Bà Trưng",
        "Hanoi",
        10,
        14,
        ("E", "F", "G"),
        (3, 11),
    ),
    DemoTheater(
        "hanoi-long-bien",
        "Boxoffice Long Biên — Hall 2",
        "7-9 Nguyễn Văn Linh, Long Biên",
        "Hanoi",
        8,
        12,
        ("D", "E"),
        (6,),
    ),
    DemoTheater(
        "hcmc-saigon-centre",
        "Boxoffice Saigon Centre — Hall 1",
        "65 Lê Lợi, Quận 1",
        "Ho Chi Minh City",
        12,
        16,
        ("F", "G", "H"),
        (4, 12),
    ),
)

# Start times 3.5 hours apart: the longest demo movie (180 min) never runs into the next.
SLOTS = (dt.time(9, 30), dt.time(13, 0), dt.time(16, 30), dt.time(20, 0))
PRICES = {  # VND per seat: matinees cheaper, weekend evenings dearest
    (False, dt.time(9, 30)): Decimal("90000"),
    (False, dt.time(13, 0)): Decimal("100000"),
    (False, dt.time(16, 30)): Decimal("110000"),
    (False, dt.time(20, 0)): Decimal("130000"),
    (True, dt.time(9, 30)): Decimal("100000"),
    (True, dt.time(13, 0)): Decimal("120000"),
    (True, dt.time(16, 30)): Decimal("130000"),
    (True, dt.time(20, 0)): Decimal("150000"),
}


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
                "price": PRICES[(weekend, slot)],
                "total_seats": theater.total_seats,
                "available_seats": theater.total_seats,
                "enforce_seat_rules": False,
            }
            shows.append((movie, row))
    return shows


def today_in_vietnam() -> dt.date:
    return dt.datetime.now(VIETNAM).date()


async def load_demo_data(
    ctx: ServiceContext, *, first_day: dt.date | None = None
) -> dict[str, int]:
    """Insert whatever of the demo catalog is missing; returns the catalog's row counts."""
    first_day = first_day or today_in_vietnam()
    theaters = _theaters()
    async with ctx.db.sessionmaker() as session, session.begin():
        await repo.insert_missing(session, Movie, _movie_rows())
        await repo.insert_missing(session, Theater, [_row(t) for t in theaters])
        await repo.insert_missing(
            session, Seat, [_row(s) for t in theaters for s in layout_seats(t)]
        )
        showtimes = []
        for index, theater in enumerate(theaters):
            # A slot an admin has already scheduled something into is left to the admin.
            booked = await repo.screenings_between(
                session,
                theater.id,
                first_day - dt.timedelta(days=1),
                first_day + dt.timedelta(days=DAYS),
            )
            for movie, row in _schedule(index, theater, first_day):
                start = dt.datetime.combine(row["show_date"], row["show_time"])
                others = [b for b in booked if b.id != row["id"]]
                if overlapping(start, movie.duration_minutes, others) is None:
                    showtimes.append(row)
        await repo.insert_missing(session, Showtime, showtimes)
        counts = {
            "movies": await repo.count(session, Movie),
            "theaters": await repo.count(session, Theater),
            "seats": await repo.count(session, Seat),
            "showtimes": await repo.count(session, Showtime),
        }
    await CatalogCache(ctx.runtime.cache).invalidate("movies", "theaters", "showtimes")
    return counts


async def load_demo_data_if_enabled(ctx: ServiceContext) -> None:
    """Startup hook: the demo catalog when BOXOFFICE_DEMO_DATA is on (embedded mode's default)."""
    if ctx.settings.demo_data_enabled:
        await load_demo_data(ctx)
