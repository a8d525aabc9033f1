"""Factories for the booking tests: a showtime made through the movie API, customers, and a
look straight into the booking database (where the invariants are checked)."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from boxoffice.core.app import ServiceContext
from tests.conftest import bearer

BOOK = "/api/bookings/book"
HOLD = "/api/bookings/seats/hold"
RELEASE = "/api/bookings/seats/release"


@dataclass
class Customer:
    """A signed-in customer (a token minted as auth would)."""

    token: str
    user_id: uuid.UUID
    email: str

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token)


@dataclass
class Show:
    """A showtime with its theater's seats, made through the movie service's API."""

    id: str
    theater_id: str
    price: float
    seats: list[dict[str, Any]]
    raw: dict[str, Any] = field(default_factory=dict)

    def seat(self, label: str) -> str:
        """The id of seat `A1`, `B12`, …"""
        row, number = label[0], int(label[1:])
        for seat in self.seats:
            if seat["seat_row"] == row and seat["seat_number"] == number:
                return str(seat["id"])
        raise KeyError(label)

    def ids(self, *labels: str) -> list[str]:
        return [self.seat(label) for label in labels]


def booking_ctx(api: httpx.AsyncClient) -> ServiceContext:
    """The booking service's context inside the running system (its db, state, runtime)."""
    ctx: ServiceContext = api.app.state.service_apps["booking"].state.ctx  # type: ignore[attr-defined]
    return ctx


async def query(api: httpx.AsyncClient, sql: str, **params: Any) -> list[Any]:
    """Rows straight from the booking database."""
    async with booking_ctx(api).db.engine.connect() as conn:
        return list((await conn.execute(sa.text(sql), params)).all())


async def live_sales(api: httpx.AsyncClient, showtime_id: str) -> list[tuple[str, str]]:
    """(seat_id, booking_id) of every live booking seat of a showtime, from the database."""
    rows = await query(
        api,
        "SELECT seat_id, booking_id FROM booking_seats "
        "WHERE showtime_id = :s AND status IN ('pending', 'confirmed')",
        s=uuid.UUID(showtime_id),
    )
    return [(str(uuid.UUID(str(r[0]))), str(uuid.UUID(str(r[1])))) for r in rows]


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 15.0) -> Any:
    """Wait until `check()` returns something truthy; fail the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"still not true after {timeout}s: {check.__name__}")
        await asyncio.sleep(0.05)


@pytest.fixture
def customer(token_for: Callable[..., str]) -> Callable[[], Customer]:
    """A new customer per call."""

    def make(role: str = "customer") -> Customer:
        user_id = uuid.uuid4()
        email = f"{user_id.hex[:8]}@x.test"
        return Customer(token_for(role, user_id=user_id, email=email), user_id, email)

    return make


@pytest.fixture
def make_show(
    api: httpx.AsyncClient, token_for: Callable[..., str]
) -> Callable[..., Awaitable[Show]]:
    """Create a movie, a theater and a showtime through the movie API (as an admin)."""
    admin = bearer(token_for("admin"))

    async def make(
        rows: int = 3,
        seats_per_row: int = 4,
        price: float = 120000,
        vip_rows: list[str] | None = None,
        aisles_after: list[int] | None = None,
        enforce_seat_rules: bool = False,
    ) -> Show:
        movie = await api.post(
            "/api/movies/movies",
            headers=admin,
            json={"title": "Dune: Part Two", "duration_minutes": 166, "genre": "Sci-Fi"},
        )
        assert movie.status_code == 201, movie.text
        theater = await api.post(
            "/api/movies/theaters",
            headers=admin,
            json={
                "name": "Hall 1",
                "location": "1 Trang Tien",
                "city": "Hanoi",
                "rows": rows,
                "seats_per_row": seats_per_row,
                "vip_rows": vip_rows or [],
                "aisles_after": aisles_after or [],
            },
        )
        assert theater.status_code == 201, theater.text
        day = (dt.date.today() + dt.timedelta(days=2)).isoformat()
        show = await api.post(
            "/api/movies/showtimes",
            headers=admin,
            json={
                "movie_id": movie.json()["id"],
                "theater_id": theater.json()["id"],
                "show_date": day,
                "show_time": "19:30:00",
                "price": price,
                "enforce_seat_rules": enforce_seat_rules,
            },
        )
        assert show.status_code == 201, show.text
        seats = await api.get(f"/api/movies/seats/{theater.json()['id']}")
        assert seats.status_code == 200, seats.text
        return Show(
            id=show.json()["id"],
            theater_id=theater.json()["id"],
            price=price,
            seats=seats.json(),
            raw=show.json(),
        )

    return make
