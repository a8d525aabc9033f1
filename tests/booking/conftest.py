"""Factories for the booking tests: a showtime made through the movie API, customers, and a
look straight into the booking database (where the invariants are checked)."""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from boxoffice.booking.models import Booking, BookingSeat
from boxoffice.core.app import ServiceContext
from boxoffice.core.db import utcnow
from boxoffice.core.events import Event, InboxEvent, OutboxEvent
from boxoffice.core.events.envelope import to_json_payload
from boxoffice.seatboard import seat_board
from boxoffice.settings import Settings
from tests.conftest import (
    bearer,
    eventually,
    running_system,
)

BOOK = "/api/bookings/book"
HOLD = "/api/bookings/seats/hold"
RELEASE = "/api/bookings/seats/release"
BOOKING_SYSTEM = ("movie", "booking")


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

    def selection(self, *labels: str) -> dict[str, Any]:
        """The body of a hold, release or book request for these seats."""
        return {"showtime_id": self.id, "seat_ids": self.ids(*labels)}


def booking_ctx(api: httpx.AsyncClient) -> ServiceContext:
    """The booking service's context inside the running system (its db, state, runtime)."""
    ctx: ServiceContext = api.app.state.service_apps["booking"].state.ctx  # type: ignore[attr-defined]
    return ctx


async def query(api: httpx.AsyncClient, statement: Any) -> list[Any]:
    """Rows straight from the booking database."""
    async with booking_ctx(api).db.engine.connect() as conn:
        return list((await conn.execute(statement)).all())


async def live_sales(api: httpx.AsyncClient, showtime_id: str) -> list[tuple[str, str]]:
    """(seat_id, booking_id) of every live booking seat of a showtime, from the database."""
    rows = await query(
        api,
        sa.select(BookingSeat.seat_id, BookingSeat.booking_id).where(
            BookingSeat.showtime_id == uuid.UUID(showtime_id),
            BookingSeat.status.in_(["pending", "confirmed"]),
        ),
    )
    return [(str(r[0]), str(r[1])) for r in rows]


async def booking_row(api: httpx.AsyncClient, booking_id: str) -> Any:
    """The booking's row as stored (not as the API presents it)."""
    async with booking_ctx(api).db.sessionmaker() as session:
        return await session.get(Booking, uuid.UUID(booking_id))


async def run_out(api: httpx.AsyncClient, *booking_ids: str, board: bool = True) -> None:
    """Time passes for these unpaid bookings: their expiry moves into the past, in the database
    (as if the sweeper slept) and, with `board`, on the seat board, which is told their sales'
    new deadline as at a sale (that the board then holds the seats free is the seat board
    contract's to show). Without it, the board goes on showing them sold."""
    ctx = booking_ctx(api)
    past = utcnow() - dt.timedelta(seconds=1)
    async with ctx.db.transaction() as session:
        for booking_id in booking_ids:
            booking = await session.get(Booking, uuid.UUID(booking_id))
            assert booking is not None and booking.status == "pending", booking_id
            booking.expires_at = past
            seats = await session.scalars(
                sa.select(BookingSeat.seat_id).where(BookingSeat.booking_id == booking.id)
            )
            if not board:
                continue
            await seat_board(ctx.runtime).sell(
                str(booking.showtime_id),
                [str(seat) for seat in seats],
                str(booking.user_id),
                unpaid_until_ms=int(past.timestamp() * 1000),
            )


async def seat_rows(api: httpx.AsyncClient, booking_id: str) -> list[str]:
    """The stored status of each seat of a booking."""
    rows = await query(
        api,
        sa.select(BookingSeat.status).where(BookingSeat.booking_id == uuid.UUID(booking_id)),
    )
    return [r[0] for r in rows]


async def movie_count_agrees(api: httpx.AsyncClient, show: Show) -> None:
    """Wait until the movie service's `available_seats` equals the seats the booking database
    has not sold (it follows the booking events; every event has then been handled, too)."""
    total = len(show.seats)

    async def agrees() -> bool:
        sold = len(await live_sales(api, show.id))
        shown = await api.get(f"/api/movies/showtimes/{show.id}")
        return bool(shown.json()["available_seats"] == max(0, total - sold))

    await eventually(agrees, timeout=60)


@pytest.fixture
def customer(token_for: Callable[..., str]) -> Callable[[], Customer]:
    """A new customer per call."""

    def make(role: str = "customer") -> Customer:
        user_id = uuid.uuid4()
        email = f"{user_id.hex[:8]}@x.test"
        return Customer(token_for(role, user_id=user_id, email=email), user_id, email)

    return make


@pytest.fixture
async def api(
    backend: str, make_settings: Callable[..., Settings]
) -> AsyncIterator[httpx.AsyncClient]:
    """Movie and booking only (all booking needs; half the databases to make and drop)."""
    async with running_system(make_settings(backend), services=BOOKING_SYSTEM) as client:
        yield client


@pytest.fixture
async def full_api(
    backend: str, make_settings: Callable[..., Settings]
) -> AsyncIterator[httpx.AsyncClient]:
    """Every service, for the stories that involve payment."""
    async with running_system(make_settings(backend)) as client:
        yield client


@pytest.fixture
def system(
    backend: str, make_settings: Callable[..., Settings]
) -> Callable[..., contextlib.AbstractAsyncContextManager[httpx.AsyncClient]]:
    """Movie and booking on settings of the test's choosing: `async with system(**s) as api`."""

    def start(
        services: tuple[str, ...] = BOOKING_SYSTEM, **overrides: Any
    ) -> contextlib.AbstractAsyncContextManager[httpx.AsyncClient]:
        return running_system(make_settings(backend, **overrides), services=services)

    return start


@pytest.fixture
def make_show(token_for: Callable[..., str]) -> Callable[..., Awaitable[Show]]:
    """Create a movie, a theater and a showtime through the movie API (as an admin)."""
    admin = bearer(token_for("admin"))

    async def make(
        api: httpx.AsyncClient,
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


async def publish(api: httpx.AsyncClient, name: str, **payload: Any) -> Event:
    """Put an event on the bus as its producer would (e.g. payment.completed)."""
    event = Event(
        id=uuid.uuid4(),
        name=name,
        source=name.split(".")[0],
        occurred_at=dt.datetime.now(dt.UTC),
        correlation_id=None,
        payload=to_json_payload(payload),
        aggregate_id=str(payload.get("booking_id")),
    )
    await redeliver(api, event)
    return event


async def redeliver(api: httpx.AsyncClient, event: Event) -> None:
    await api.runtime.bus.publish([event])  # type: ignore[attr-defined]


async def handled(api: httpx.AsyncClient, event: Event) -> None:
    """Wait until booking's consumer has processed the event (its inbox row is there)."""

    async def inbox_has_it() -> bool:
        statement = sa.select(InboxEvent.event_id).where(InboxEvent.event_id == event.id)
        return bool(await query(api, statement))

    await eventually(inbox_has_it)


async def events_of(api: httpx.AsyncClient, booking_id: str) -> list[tuple[str, dict[str, Any]]]:
    """(name, payload) of the events booking recorded about a booking, in order."""
    rows = await query(
        api,
        sa.select(OutboxEvent.name, OutboxEvent.payload)
        .where(OutboxEvent.aggregate_id == booking_id)
        .order_by(OutboxEvent.position),
    )
    return [(r[0], r[1]) for r in rows]
