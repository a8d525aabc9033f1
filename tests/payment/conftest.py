"""A cinema with one showtime, customers with tokens, and the payment helpers the stories use.

Every test runs twice (the `backend` fixture): on SQLite + in-process adapters and on
PostgreSQL + Redis + RabbitMQ. Only movie, booking and payment are started (notification when
a test asks for it): the saga is between booking and payment, and fewer services keep the
suite quick. The card gateway is the simulator, the only mocked party of the system.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from boxoffice.core.app import ServiceContext
from boxoffice.core.settings import Settings
from boxoffice.payment.provider import SimulatedGateway
from tests.conftest import bearer, running_system
from tests.invariants import MoneyReport, check_money_invariants

SEAT_PRICE = Decimal("120000.00")
SERVICES = ("movie", "booking", "payment")


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 20.0) -> Any:
    """Poll `check` until it returns something truthy (the saga is asynchronous)."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout}s: {check.__name__} -> {result!r}")
        await asyncio.sleep(0.05)


class Cinema:
    """The system under test, seen through its API, plus direct views for the checks."""

    def __init__(self, api: httpx.AsyncClient, settings: Settings, token_for: Any) -> None:
        self.api = api
        self.settings = settings
        self.token_for = token_for
        self.admin = token_for("admin")
        self.showtime_id = ""
        self.seat_ids: list[str] = []
        self._next_seat = 0

    def context(self, service: str) -> ServiceContext:
        return self.api.app.state.service_apps[service].state.ctx  # type: ignore[attr-defined, no-any-return]

    @property
    def gateway(self) -> SimulatedGateway:
        return self.context("payment").state["provider"]  # type: ignore[no-any-return]

    def customer(self) -> str:
        return str(self.token_for("customer"))

    async def open(self, rows: int = 6, seats_per_row: int = 10) -> None:
        """A movie in a theater with one showtime tomorrow, all through the movie API."""
        admin = bearer(self.admin)
        movie = await self.api.post(
            "/api/movies/movies",
            json={"title": "The Payment Saga", "duration_minutes": 120, "genre": "Drama"},
            headers=admin,
        )
        assert movie.status_code == 201, movie.text
        theater = await self.api.post(
            "/api/movies/theaters",
            json={
                "name": "Hall 1",
                "location": "1 Main St",
                "city": "Hanoi",
                "rows": rows,
                "seats_per_row": seats_per_row,
            },
            headers=admin,
        )
        assert theater.status_code == 201, theater.text
        show = await self.api.post(
            "/api/movies/showtimes",
            json={
                "movie_id": movie.json()["id"],
                "theater_id": theater.json()["id"],
                "show_date": (dt.date.today() + dt.timedelta(days=1)).isoformat(),
                "show_time": "19:30",
                "price": str(SEAT_PRICE),
            },
            headers=admin,
        )
        assert show.status_code == 201, show.text
        self.showtime_id = show.json()["id"]
        seats = await self.api.get(f"/api/movies/seats/{theater.json()['id']}")
        assert seats.status_code == 200, seats.text
        self.seat_ids = [seat["id"] for seat in seats.json()]

    async def book(self, token: str, seats: int = 2) -> dict[str, Any]:
        """A pending booking of the next free seats."""
        chosen = self.seat_ids[self._next_seat : self._next_seat + seats]
        self._next_seat += seats
        response = await self.api.post(
            "/api/bookings/book",
            json={"showtime_id": self.showtime_id, "seat_ids": chosen},
            headers=bearer(token),
        )
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]

    async def pay(
        self,
        token: str,
        booking: dict[str, Any],
        key: str | None = None,
        **overrides: Any,
    ) -> httpx.Response:
        body: dict[str, Any] = {
            "booking_id": booking["id"],
            "payment_method": "credit_card",
            "amount": booking["total_price"],
        }
        body.update(overrides)
        headers = bearer(token)
        headers["Idempotency-Key"] = key or uuid.uuid4().hex
        return await self.api.post("/api/payments/process", json=body, headers=headers)

    async def booking(self, token: str, booking_id: str) -> dict[str, Any]:
        response = await self.api.get(f"/api/bookings/bookings/{booking_id}", headers=bearer(token))
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    async def payment(self, token: str, payment_id: str) -> dict[str, Any]:
        response = await self.api.get(f"/api/payments/payments/{payment_id}", headers=bearer(token))
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    async def payments_of(self, token: str, booking_id: str) -> list[dict[str, Any]]:
        response = await self.api.get(
            "/api/payments/payments", params={"booking_id": booking_id}, headers=bearer(token)
        )
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    async def booking_reaches(
        self, token: str, booking_id: str, status: str, payment_status: str, timeout: float = 20
    ) -> dict[str, Any]:
        async def reached() -> dict[str, Any] | None:
            booking = await self.booking(token, booking_id)
            done = booking["status"] == status and booking["payment_status"] == payment_status
            return booking if done else None

        reached.__name__ = f"booking {booking_id} is {status}/{payment_status}"
        return await eventually(reached, timeout)  # type: ignore[no-any-return]

    async def seat_states(self) -> dict[str, str]:
        response = await self.api.get(f"/api/movies/showtimes/{self.showtime_id}/available-seats")
        assert response.status_code == 200, response.text
        return {seat["id"]: seat["status"] for seat in response.json()["seats"]}

    async def check_money(self) -> MoneyReport:
        """The money invariants, from both databases and the gateway's own books."""
        return await check_money_invariants(
            self.context("payment").db.url,
            self.context("booking").db.url,
            gateway_money_held=self.gateway.money_held,
        )


@pytest.fixture
def open_cinema(
    backend: str, make_settings: Callable[..., Settings], token_for: Any
) -> Callable[..., Any]:
    """Start the system with setting overrides and open the cinema: `async with open_cinema()`."""

    def start(services: tuple[str, ...] = SERVICES, **overrides: Any) -> Any:
        values: dict[str, Any] = {"payment_gateway_timeout_seconds": 0.5}
        values.update(overrides)
        settings = make_settings(backend, **values)
        return _open(settings, services, token_for)

    return start


@contextlib.asynccontextmanager
async def _open(
    settings: Settings, services: tuple[str, ...], token_for: Any
) -> AsyncIterator[Cinema]:
    async with running_system(settings, services) as api:
        cinema = Cinema(api, settings, token_for)
        await cinema.open()
        yield cinema


@pytest.fixture
async def cinema(open_cinema: Callable[..., Any]) -> AsyncIterator[Cinema]:
    """The system on the test's backend with a cinema open and a fast gateway timeout."""
    async with open_cinema() as opened:
        yield opened


@pytest.fixture
async def payment_api(
    backend: str, make_settings: Callable[..., Settings]
) -> AsyncIterator[httpx.AsyncClient]:
    """The payment service alone (for input checks that never reach another service)."""
    async with running_system(make_settings(backend), ("payment",)) as client:
        yield client
