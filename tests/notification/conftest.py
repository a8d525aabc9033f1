"""Fixtures of the notification tests: a real SMTP server (aiosmtpd), the notification service
on each backend (SQLite + in-process bus, PostgreSQL + Redis + the distributed bus), and
events shaped as docs/contracts.md describes, delivered through the event bus."""

from __future__ import annotations

import contextlib
import datetime as dt
import email
import email.policy
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from email.message import EmailMessage, Message
from typing import Any

import httpx
import pytest
import pytest_asyncio
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from boxoffice.core.db import Database
from boxoffice.core.events import Event
from tests.conftest import (
    POSTGRES_URL,
    RABBITMQ_URL,
    REDIS_URL,
    TEST_SECRET,
    eventually,  # noqa: F401 (used by this folder's tests)
    running_system,
)
from tests.databases import PooledSettings

# Fast retries so a test sees several attempts in well under a second.
FAST_DELIVERY = {
    "NOTIFICATION_POLL_SECONDS": "0.05",
    "NOTIFICATION_RETRY_BASE_SECONDS": "0.05",
    "NOTIFICATION_RETRY_MAX_SECONDS": "0.2",
    "NOTIFICATION_SMTP_TIMEOUT_SECONDS": "5",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Inbox:
    """aiosmtpd handler: keeps every message it accepts; can refuse recipients for good."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refuse: set[str] = set()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, _: Any):
        if address in self.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 Message accepted for delivery"


class SmtpServer:
    """A real SMTP server on a fixed localhost port that a test can start late and stop."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"smtp://127.0.0.1:{self.port}"
        self.inbox = _Inbox()
        self._controller: Controller | None = None

    @property
    def messages(self) -> list[EmailMessage]:
        return self.inbox.messages

    def start(self) -> None:
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


@pytest.fixture
def smtp() -> AsyncIterator[SmtpServer]:
    """The SMTP server, not yet listening (call `start()`): a closed port is "SMTP down"."""
    server = SmtpServer()
    yield server  # type: ignore[misc]
    server.stop()


@pytest.fixture
def fast_delivery(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in FAST_DELIVERY.items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def system(
    backend: str, make_settings: Callable[..., Any], smtp: SmtpServer, fast_delivery: None
) -> Callable[..., Any]:
    """`async with system(**settings) as api`: the notification service on the test's backend,
    e-mailing through `smtp` (pass smtp_url=None for the embedded `.eml` folder)."""

    @contextlib.asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        values: dict[str, Any] = {
            "smtp_url": smtp.url,
            "event_retry_base_seconds": 0.05,
            "event_retry_max_seconds": 0.2,
            "event_max_attempts": 3,
        }
        values.update(overrides)
        settings = make_settings(backend, **values)
        async with running_system(settings, services=("notification",)) as api:
            yield api

    return start


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def module_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared_api(
    module_backend: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[httpx.AsyncClient]:
    """One notification service per module and backend, for stories that each use their own
    users (starting PostgreSQL databases per test would cost the suite most of its time)."""
    settings = PooledSettings(  # type: ignore[call-arg]
        _env_file=None,
        BOXOFFICE_MODE="distributed" if module_backend == "postgres" else "embedded",
        postgres_url=POSTGRES_URL,
        redis_url=REDIS_URL,
        rabbitmq_url=RABBITMQ_URL,
        BOXOFFICE_DB_PREFIX=f"t{uuid.uuid4().hex[:10]}_",
        secret_key=TEST_SECRET,
        BOXOFFICE_DATA_DIR=tmp_path_factory.mktemp("notification"),
        BOXOFFICE_DEMO_DATA=False,
        log_json=False,
        log_level="WARNING",
    )
    async with running_system(settings, services=("notification",)) as api:
        yield api


def notification_db(api: httpx.AsyncClient) -> Database:
    """The notification service's own database, to check what the API does not show."""
    return api.app.state.service_apps["notification"].state.ctx.db  # type: ignore[attr-defined]


async def rows(api: httpx.AsyncClient, model: Any, *where: Any) -> Sequence[Any]:
    """Rows of one of the notification service's tables."""
    async with notification_db(api).sessionmaker() as session:
        return (await session.scalars(sa.select(model).where(*where))).all()


async def only_notice(
    api: httpx.AsyncClient, token: str, kind: str, status: str | None = None
) -> dict[str, Any] | None:
    """The caller's one notice of type `kind` (in that delivery status), if there is exactly one."""
    found = [n for n in await notices(api, token) if n["type"] == kind]
    if status is not None:
        found = [n for n in found if n["status"] == status]
    return found[0] if len(found) == 1 else None


def booking_payload(
    user_id: uuid.UUID,
    user_email: str | None,
    *,
    booking_id: uuid.UUID | None = None,
    code: str = "BK7Q2M9X",
    status: str = "confirmed",
    payment_status: str = "paid",
    **extra: Any,
) -> dict[str, Any]:
    """A `booking.*` payload as docs/contracts.md describes it."""
    return {
        "booking_id": str(booking_id or uuid.uuid4()),
        "booking_code": code,
        "user_id": str(user_id),
        "user_email": user_email,
        "showtime_id": str(uuid.uuid4()),
        "movie_title": "Dune: Part Two",
        "theater_name": "Galaxy Hall 1",
        "city": "Hanoi",
        "show_date": "2026-03-20",
        "show_time": "19:30:00",
        "seats": [
            {
                "seat_id": str(uuid.uuid4()),
                "seat_row": "C",
                "seat_number": 6,
                "seat_type": "standard",
                "price": "120000.00",
            },
            {
                "seat_id": str(uuid.uuid4()),
                "seat_row": "C",
                "seat_number": 5,
                "seat_type": "standard",
                "price": "120000.00",
            },
        ],
        "total_seats": 2,
        "total_price": "240000.00",
        "status": status,
        "payment_status": payment_status,
        **extra,
    }


def payment_payload(
    user_id: uuid.UUID,
    user_email: str | None,
    *,
    booking_id: uuid.UUID,
    code: str = "BK7Q2M9X",
    status: str = "completed",
    **extra: Any,
) -> dict[str, Any]:
    """A `payment.*` payload as docs/contracts.md describes it."""
    return {
        "payment_id": str(uuid.uuid4()),
        "booking_id": str(booking_id),
        "booking_code": code,
        "user_id": str(user_id),
        "user_email": user_email,
        "amount": "240000.00",
        "payment_method": "credit_card",
        "transaction_id": "txn_4f1c2a",
        "status": status,
        **extra,
    }


def make_event(name: str, payload: dict[str, Any], *, event_id: uuid.UUID | None = None) -> Event:
    return Event(
        id=event_id or uuid.uuid4(),
        name=name,
        source=name.split(".")[0],
        occurred_at=dt.datetime.now(dt.UTC),
        correlation_id=str(uuid.uuid4()),
        payload=payload,
        aggregate_id=payload.get("booking_id"),
    )


async def publish(api: httpx.AsyncClient, *events: Event) -> None:
    """Put events on the system's bus, as the producing service's relay would."""
    await api.runtime.bus.publish(list(events))  # type: ignore[attr-defined]


async def notices(api: httpx.AsyncClient, token: str, **params: Any) -> list[dict[str, Any]]:
    response = await api.get(
        "/api/notifications/notifications",
        params=params,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def parts(message: Message) -> dict[str, Any]:
    """The plain text, the HTML and the images of an e-mail, as a mail program reads them from
    its bytes (so a message built either way in `mail.build_message` reads the same)."""
    message = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    images = [p for p in message.walk() if p.get_content_type() == "image/png"]
    return {
        "plain": plain.get_content() if plain else "",
        "html": html.get_content() if html else "",
        "images": images,
    }
