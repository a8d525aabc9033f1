"""A cinema with one showtime, customers with tokens, and the payment helpers the stories use.

Every test runs twice: on SQLite + in-process adapters and on PostgreSQL + Redis + RabbitMQ.
One system per test module and backend (`cinema`) keeps the suite quick: starting and dropping
PostgreSQL databases costs seconds, and every story uses its own customers and bookings, so the
stories do not see each other; the money invariants are checked over the whole shared system.
Stories that need other settings start their own (`open_cinema`). Only movie, booking and
payment run (notification when asked): the saga is between booking and payment. The card
gateway is the simulator, the only mocked party of the system.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
import pytest_asyncio

from boxoffice.core.app import ServiceContext
from boxoffice.core.auth import issue_token
from boxoffice.payment.provider import SimulatedGateway
from boxoffice.settings import Settings
from tests.conftest import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    POSTGRES_URL,
    RABBITMQ_URL,
    REDIS_URL,
    TEST_SECRET,
    bearer,
    eventually,
    running_system,
)
from tests.databases import PooledSettings
from tests.invariants import MoneyReport, check_money_invariants

SEAT_PRICE = Decimal("120000.00")
SERVICES = ("movie", "booking", "payment")


class Cinema:
    """The system under test, seen through its API, plus direct views for the checks."""

    def __init__(self, api: httpx.AsyncClient, settings: Settings) -> None:
        self.api = api
        self.settings = settings
        self.admin = mint(settings, "admin")
        self.showtime_id = ""
        self.seat_ids: list[str] = []
        self._next_seat = 0
        self._charge_calls = self._refund_calls = 0

    def begin_story(self) -> None:
        """Count gateway calls from here (the system may be shared with earlier stories)."""
        self._charge_calls = self.gateway.charge_calls
        self._refund_calls = self.gateway.refund_calls

    @property
    def charge_calls(self) -> int:
        """Charges asked of the gateway during this story."""
        return self.gateway.charge_calls - self._charge_calls

    @property
    def refund_calls(self) -> int:
        """Refunds asked of the gateway during this story."""
        return self.gateway.refund_calls - self._refund_calls

    def context(self, service: str) -> ServiceContext:
        return self.api.app.state.service_apps[service].state.ctx  # type: ignore[attr-defined, no-any-return]

    @property
    def gateway(self) -> SimulatedGateway:
        return self.context("payment").state["provider"]  # type: ignore[no-any-return]

    def customer(self) -> str:
        return mint(self.settings, "customer")

    async def open(self, rows: int = 20, seats_per_row: int = 20) -> None:
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


def mint(settings: Settings, role: str) -> str:
    """A token as the auth service would issue it (every service verifies tokens locally)."""
    user_id = uuid.uuid4()
    token, _ = issue_token(settings, user_id=user_id, email=f"{user_id.hex[:8]}@x.test", role=role)
    return token


def build_settings(backend: str, data_dir: Any, prefix: str, **overrides: Any) -> Settings:
    """The settings tests/conftest.py's `make_settings` builds (on the session's migrated
    databases: tests/databases.py), with a fast gateway timeout."""
    values: dict[str, Any] = {
        "BOXOFFICE_MODE": "distributed" if backend == "postgres" else "embedded",
        "postgres_url": POSTGRES_URL,
        "redis_url": REDIS_URL,
        "rabbitmq_url": RABBITMQ_URL,
        "BOXOFFICE_DB_PREFIX": prefix,
        "secret_key": TEST_SECRET,
        "bcrypt_rounds": 4,
        "BOXOFFICE_DATA_DIR": data_dir,
        "BOXOFFICE_ADMIN_EMAIL": ADMIN_EMAIL,
        "BOXOFFICE_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "BOXOFFICE_DEMO_DATA": False,
        "log_json": False,
        "log_level": "WARNING",
        "http_retries": 2,
        "payment_gateway_timeout_seconds": 0.5,
    }
    values.update(overrides)
    return PooledSettings(_env_file=None, **values)  # type: ignore[call-arg]


@contextlib.asynccontextmanager
async def opened_cinema(settings: Settings, services: tuple[str, ...]) -> AsyncIterator[Cinema]:
    async with running_system(settings, services) as api:
        cinema = Cinema(api, settings)
        await cinema.open()
        yield cinema


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def payment_backend(request: pytest.FixtureRequest) -> str:
    """SQLite + in-process adapters, or PostgreSQL + Redis + RabbitMQ."""
    return str(request.param)


@pytest.fixture
def open_cinema(payment_backend: str, tmp_path: Any) -> Callable[..., Any]:
    """A system of the story's own, with setting overrides: `async with open_cinema(...)`."""

    def start(services: tuple[str, ...] = SERVICES, **overrides: Any) -> Any:
        prefix = f"t{uuid.uuid4().hex[:10]}_"
        settings = build_settings(payment_backend, tmp_path / "data", prefix, **overrides)
        return opened_cinema(settings, services)

    return start


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared_cinema(
    payment_backend: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Cinema]:
    prefix = f"t{uuid.uuid4().hex[:10]}_"
    settings = build_settings(payment_backend, tmp_path_factory.mktemp("cinema"), prefix)
    async with opened_cinema(settings, SERVICES) as cinema:
        yield cinema


@pytest.fixture
def cinema(shared_cinema: Cinema) -> Cinema:
    """The module's system on the test's backend, its gateway counters reset for this story."""
    shared_cinema.begin_story()
    return shared_cinema


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def payment_api(
    payment_backend: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[httpx.AsyncClient]:
    """The payment service alone (for input checks that never reach another service)."""
    prefix = f"t{uuid.uuid4().hex[:10]}_"
    settings = build_settings(payment_backend, tmp_path_factory.mktemp("payment"), prefix)
    async with running_system(settings, ("payment",)) as client:
        yield client
