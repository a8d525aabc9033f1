"""The demo catalog's content: real-looking movies, three theaters in Hanoi and Ho Chi Minh
City, the daily show times and their VND prices (loaded by demo.py)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal


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
