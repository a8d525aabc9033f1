"""Setup before the clock starts, through the public API only: the admin's token, a movie, the
halls, showtimes on future dates, and customers registered and logged in."""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import uuid
from dataclasses import dataclass, field
from typing import Any

from bench.load import Http

PASSWORD = "Bench-Sale-2468!"  # not a common password; bcrypt cost comes from BCRYPT_ROUNDS
MOVIE_MINUTES = 120


class SetupFailed(RuntimeError):
    """The system refused a setup request; the message says which and why."""


def expect(what: str, status: int, body: Any, *ok: int) -> Any:
    if status not in ok:
        raise SetupFailed(f"{what}: HTTP {status}: {str(body)[:300]}")
    return body


def layout(seats: int) -> tuple[int, int]:
    """(rows, seats_per_row) with exactly `seats` seats: at most 26 rows and 100 seats a row,
    as square-ish as a cinema (about twice as wide as deep)."""
    known = {200: (10, 20), 2000: (20, 100)}
    if seats in known:
        return known[seats]
    fits = [r for r in range(1, 27) if seats % r == 0 and seats // r <= 100]
    if not fits:
        raise SetupFailed(f"no layout of ≤26 rows × ≤100 seats has exactly {seats} seats")
    rows = min(fits, key=lambda r: abs(r - math.sqrt(seats / 2)))
    return rows, seats // rows


@dataclass
class Customer:
    email: str
    token: str
    user_id: str


@dataclass
class Catalog:
    """What setup made; `showtime(seats)` schedules a fresh showtime in that hall."""

    http: Http
    admin: str
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    movie: dict[str, Any] = field(default_factory=dict)
    halls: dict[int, dict[str, Any]] = field(default_factory=dict)
    scheduled: dict[int, int] = field(default_factory=dict)
    customers: list[Customer] = field(default_factory=list)

    @classmethod
    async def login_admin(cls, http: Http, email: str, password: str) -> Catalog:
        status, body = await http.call(
            "POST", "/api/auth/token", form={"username": email, "password": password}
        )
        expect("admin login", status, body, 200)
        return cls(http, body["access_token"])

    async def create_movie(self) -> None:
        status, body = await self.http.call(
            "POST",
            "/api/movies/movies",
            token=self.admin,
            json_body={
                "title": f"Bench Premiere {self.tag}",
                "description": "The flash sale everyone queues for.",
                "duration_minutes": MOVIE_MINUTES,
                "genre": "Drama",
                "language": "English",
                "rating": "PG",
                "release_date": dt.date.today().isoformat(),
            },
        )
        self.movie = expect("create movie", status, body, 201)

    async def create_hall(self, seats: int) -> None:
        rows, per_row = layout(seats)
        status, body = await self.http.call(
            "POST",
            "/api/movies/theaters",
            token=self.admin,
            json_body={
                "name": f"Bench Hall {seats} {self.tag}",
                "location": "1 Benchmark Street",
                "city": "Hanoi",
                "rows": rows,
                "seats_per_row": per_row,
            },
        )
        self.halls[seats] = expect(f"create {seats}-seat hall", status, body, 201)

    async def showtime(self, seats: int) -> dict[str, Any]:
        """A new showtime in the `seats`-seat hall, on a day of its own in the future (so no
        two overlap), every seat free."""
        if seats not in self.halls:
            await self.create_hall(seats)
        index = self.scheduled.get(seats, 0)
        self.scheduled[seats] = index + 1
        day = dt.date.today() + dt.timedelta(days=7 + index)
        status, body = await self.http.call(
            "POST",
            "/api/movies/showtimes",
            token=self.admin,
            json_body={
                "movie_id": self.movie["id"],
                "theater_id": self.halls[seats]["id"],
                "show_date": day.isoformat(),
                "show_time": "19:00:00",
                "price": 120000,
            },
        )
        return expect(f"create showtime ({seats} seats)", status, body, 201)

    async def register(self, name: str) -> Customer:
        """One customer: registered, then logged in."""
        email = f"{name}@bench.example.com"
        status, body = await self.http.call(
            "POST",
            "/api/auth/register",
            json_body={
                "email": email,
                "username": name,
                "password": PASSWORD,
                "full_name": "Bench Customer",
            },
        )
        expect(f"register {email}", status, body, 201)
        status, body = await self.http.call(
            "POST", "/api/auth/token", form={"username": email, "password": PASSWORD}
        )
        expect(f"login {email}", status, body, 200)
        return Customer(email, body["access_token"], str(body["user"]["id"]))

    async def ensure_customers(self, count: int, concurrency: int = 16) -> list[Customer]:
        """At least `count` customers registered and logged in (concurrently)."""
        gate = asyncio.Semaphore(concurrency)
        start = len(self.customers)

        async def one(i: int) -> Customer:
            async with gate:
                return await self.register(f"bench{self.tag}u{i}")

        if count > start:
            self.customers += await asyncio.gather(*(one(i) for i in range(start, count)))
        return self.customers[:count]
