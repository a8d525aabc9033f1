"""`boxoffice check` as an operator runs it: a settled system passes; each rule, broken on
purpose in a database, is reported by kind and ids (exit 1); what it cannot read is exit 2.

One story per backend (SQLite + in-process bus; PostgreSQL + RabbitMQ) leaves a settled system
behind: Alice's paid booking, Bob's paid and then cancelled (refunded) one, Carol's unpaid one.
The system is then stopped, and each test gets a copy of its databases (SQLite files copied,
PostgreSQL databases created from them as templates) to break one rule in. Dead letters need
consumers that fail, so that test runs a system of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner

from boxoffice.cli import app as cli
from boxoffice.core.auth import issue_token
from boxoffice.core.db import Money, UTCDateTime, utcnow
from boxoffice.core.runtime import Runtime
from boxoffice.embedded import create_embedded_app
from boxoffice.invariants import KINDS
from boxoffice.settings import Settings
from boxoffice.topology import DATABASE_NAMES, SERVICE_NAMES
from tests.conftest import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    POSTGRES_URL,
    RABBITMQ_URL,
    REDIS_URL,
    TEST_SECRET,
    bearer,
    delete_event_topology,
    delete_redis_prefix,
    drop_databases_with_prefix,
    eventually,
    make_runtime,
)

SEAT_PRICE = Decimal("90000.00")
AN_HOUR_AGO = dt.timedelta(hours=1)


def build_settings(backend: str, data_dir: Path, prefix: str, **overrides: Any) -> Settings:
    """What tests/conftest.py's `make_settings` builds, for a module-scoped system."""
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
        # Events inserted straight into an outbox are picked up within a moment.
        "event_relay_poll_seconds": 0.2,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def customer(settings: Settings, role: str = "customer") -> tuple[str, uuid.UUID]:
    user_id = uuid.uuid4()
    token, _ = issue_token(settings, user_id=user_id, email=f"{user_id.hex[:8]}@x.test", role=role)
    return token, user_id


# The system: started, a story told, stopped


@dataclass(frozen=True)
class Story:
    """What the story left behind, by id, and the settings that find its databases."""

    settings: Settings
    showtime_id: str
    paid: str  # Alice's confirmed, paid booking
    paid_payment: str
    paid_seats: tuple[str, ...]
    refunded: str  # Bob's booking, paid then cancelled and refunded
    refunded_payment: str
    unpaid: str  # Carol's pending booking


@contextlib.asynccontextmanager
async def started(settings: Settings, runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """The whole system in this process (every service, its relays and consumers), stopped
    when the block ends; its databases and queues stay (see `cleanup`)."""
    app = create_embedded_app(settings, runtime)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", timeout=30
        ) as api:
            yield api


async def cleanup(settings: Settings, runtime: Runtime | None = None) -> None:
    """Drop a system's databases, Redis keys and RabbitMQ queues (distributed)."""
    if settings.distributed:
        await drop_databases_with_prefix(settings.db_prefix)
        await delete_redis_prefix(f"{settings.db_prefix}bo:")
        if runtime is not None:
            await delete_event_topology(runtime)


async def open_showtime(api: httpx.AsyncClient, admin: str) -> tuple[str, list[str]]:
    """A 3 x 4 theater with one showtime tomorrow; its id and seat ids."""
    headers = bearer(admin)
    movie = await api.post(
        "/api/movies/movies",
        json={"title": "Rashomon", "duration_minutes": 88, "genre": "Drama"},
        headers=headers,
    )
    assert movie.status_code == 201, movie.text
    theater = await api.post(
        "/api/movies/theaters",
        json={
            "name": "Hall 7",
            "location": "7 Gate St",
            "city": "Kyoto",
            "rows": 3,
            "seats_per_row": 4,
        },
        headers=headers,
    )
    assert theater.status_code == 201, theater.text
    show = await api.post(
        "/api/movies/showtimes",
        json={
            "movie_id": movie.json()["id"],
            "theater_id": theater.json()["id"],
            "show_date": (dt.date.today() + dt.timedelta(days=1)).isoformat(),
            "show_time": "19:00",
            "price": str(SEAT_PRICE),
        },
        headers=headers,
    )
    assert show.status_code == 201, show.text
    seats = await api.get(f"/api/movies/seats/{theater.json()['id']}")
    return show.json()["id"], [seat["id"] for seat in seats.json()]


async def book(api: httpx.AsyncClient, token: str, showtime_id: str, seats: list[str]) -> str:
    response = await api.post(
        "/api/bookings/book",
        json={"showtime_id": showtime_id, "seat_ids": seats},
        headers=bearer(token),
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def pay(api: httpx.AsyncClient, token: str, booking_id: str) -> str:
    booking = (await api.get(f"/api/bookings/bookings/{booking_id}", headers=bearer(token))).json()
    response = await api.post(
        "/api/payments/process",
        json={
            "booking_id": booking_id,
            "payment_method": "credit_card",
            "amount": booking["total_price"],
        },
        headers={**bearer(token), "Idempotency-Key": uuid.uuid4().hex},
    )
    assert response.status_code in (200, 201), response.text
    return str(response.json()["id"])


async def state_of(api: httpx.AsyncClient, token: str, booking_id: str) -> str:
    booking = (await api.get(f"/api/bookings/bookings/{booking_id}", headers=bearer(token))).json()
    return f"{booking['status']}/{booking['payment_status']}"


async def notice_types(api: httpx.AsyncClient, token: str) -> set[str]:
    response = await api.get("/api/notifications/notifications", headers=bearer(token))
    return {notice["type"] for notice in response.json()}


async def unpublished_events(settings: Settings) -> int:
    total = 0
    for service in ("movie", "booking", "payment", "notification"):
        (count,) = await query(
            settings, service, "SELECT count(*) FROM event_outbox WHERE published_at IS NULL"
        )
        total += count[0]
    return total


async def tell_story(settings: Settings, runtime: Runtime) -> Story:
    async with started(settings, runtime) as api:
        admin, _ = customer(settings, "admin")
        showtime_id, seats = await open_showtime(api, admin)
        (alice, _), (bob, _), (carol, _) = (customer(settings) for _ in range(3))
        paid = await book(api, alice, showtime_id, seats[0:2])
        paid_payment = await pay(api, alice, paid)
        refunded = await book(api, bob, showtime_id, seats[2:3])
        refunded_payment = await pay(api, bob, refunded)

        async def bob_paid() -> bool:
            return await state_of(api, bob, refunded) == "confirmed/paid"

        await eventually(bob_paid)
        cancelled = await api.post(f"/api/bookings/bookings/{refunded}/cancel", headers=bearer(bob))
        assert cancelled.status_code == 200, cancelled.text
        unpaid = await book(api, carol, showtime_id, seats[3:4])

        async def settled() -> bool:
            board = await api.get(f"/api/movies/showtimes/{showtime_id}/available-seats")
            return (
                await state_of(api, alice, paid) == "confirmed/paid"
                and await state_of(api, bob, refunded) == "cancelled/refunded"
                and "booking.confirmed" in await notice_types(api, alice)
                and {"booking.confirmed", "payment.refunded"} <= await notice_types(api, bob)
                and board.json()["available_count"] == 12 - 3
                and await unpublished_events(settings) == 0
            )

        await eventually(settled, timeout=60)
    return Story(
        settings,
        showtime_id,
        paid,
        paid_payment,
        tuple(seats[0:2]),
        refunded,
        refunded_payment,
        unpaid,
    )


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def check_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# What does not depend on the database's dialect (output, the settle loop, the process, rules
# whose rows the other tests read already) runs on the quicker SQLite copy only: a PostgreSQL
# copy costs seconds to create and drop.
embedded_only = pytest.mark.parametrize("check_backend", ["sqlite"], indirect=True)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def story(
    check_backend: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Story]:
    prefix = f"t{uuid.uuid4().hex[:10]}_"
    settings = build_settings(check_backend, tmp_path_factory.mktemp("story") / "data", prefix)
    runtime = make_runtime(settings)
    try:
        yield await tell_story(settings, runtime)
    finally:
        await cleanup(settings, runtime)


async def copy_databases(settings: Settings, data_dir: Path) -> Settings:
    """The settings of a copy of the (stopped) system's databases."""
    if not settings.distributed:
        await asyncio.to_thread(shutil.copytree, settings.data_dir, data_dir)
        return settings.model_copy(update={"data_dir": data_dir})
    await asyncio.to_thread(data_dir.mkdir, parents=True)
    prefix = f"t{uuid.uuid4().hex[:10]}_"
    engine = create_async_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            for name in DATABASE_NAMES.values():
                await conn.execute(
                    sa.text(
                        f'CREATE DATABASE "{prefix}{name}" TEMPLATE "{settings.db_prefix}{name}"'
                    )
                )
    finally:
        await engine.dispose()
    return settings.model_copy(update={"db_prefix": prefix, "data_dir": data_dir})


@pytest_asyncio.fixture
async def system(story: Story, tmp_path: Path) -> AsyncIterator[Story]:
    """A copy of the story's databases, this test's to break."""
    settings = await copy_databases(story.settings, tmp_path / "data")
    try:
        yield replace(story, settings=settings)
    finally:
        await cleanup(settings)


# Reading and breaking the databases


def _typed(params: dict[str, Any]) -> list[sa.BindParameter[Any]]:
    """Parameters as the models store them (UUIDs and times are text on SQLite)."""
    binds = []
    for name, value in params.items():
        if isinstance(value, uuid.UUID):
            kind: Any = sa.Uuid()
        elif isinstance(value, dt.datetime):
            kind = UTCDateTime()
        elif isinstance(value, Decimal):
            kind = Money()
        elif isinstance(value, bool):
            kind = sa.Boolean()
        elif isinstance(value, dict):
            kind = sa.JSON()
        else:
            kind = None
        binds.append(sa.bindparam(name, value, type_=kind))
    return binds


async def query(settings: Settings, service: str, sql: str, **params: Any) -> list[Any]:
    """Run SQL on a service's database (committed); the rows, if any."""
    engine = create_async_engine(settings.database_url_for(service), poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(sa.text(sql).bindparams(*_typed(params)))
            return list(result.all()) if result.returns_rows else []
    finally:
        await engine.dispose()


def u(value: str) -> uuid.UUID:
    return uuid.UUID(value)


# Running the command


def cli_env(settings: Settings) -> dict[str, str | None]:
    """The environment an operator of this system has."""
    return {
        "BOXOFFICE_MODE": settings.mode,
        "BOXOFFICE_DATA_DIR": str(settings.data_dir),
        "BOXOFFICE_DB_PREFIX": settings.db_prefix,
        "POSTGRES_URL": settings.postgres_url,
        "RABBITMQ_URL": settings.rabbitmq_url,
        "REDIS_URL": settings.redis_url,
        "SECRET_KEY": TEST_SECRET,
        "DATABASE_URL": None,
    }


@dataclass
class Checked:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def report(self) -> dict[str, Any]:
        return json.loads(self.stdout)  # type: ignore[no-any-return]

    def kinds(self) -> set[str]:
        return {v["kind"] for v in self.report["violations"]}

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [v for v in self.report["violations"] if v["kind"] == kind]


async def run_check(settings: Settings, *args: str) -> Checked:
    """`boxoffice check ARGS` in this process (in a thread: it runs its own event loop)."""
    result = await asyncio.to_thread(
        CliRunner().invoke, cli, ["check", *args], env=cli_env(settings)
    )
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Checked(result.exit_code, result.stdout, result.stderr)


async def check_in_a_process(settings: Settings, *args: str) -> Checked:
    """`python -m boxoffice check ARGS` as its own process (as an operator or a monitor runs
    it; also the way to check a system running in this process, whose logs would otherwise
    mix with the command's output)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOXOFFICE_")}
    env.pop("DATABASE_URL", None)
    env.update({k: v for k, v in cli_env(settings).items() if v is not None})
    await asyncio.to_thread(settings.data_dir.mkdir, parents=True, exist_ok=True)
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "boxoffice", "check", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=settings.data_dir,  # no .env of a checkout
    )
    return Checked(done.returncode, done.stdout, done.stderr)


async def violations(settings: Settings, kind: str, *args: str) -> list[dict[str, Any]]:
    """Check with --json (no grace unless `args` say so); the violations of `kind`, which must
    be there (exit 1)."""
    checked = await run_check(settings, "--json", *(args or ("--grace", "0")))
    assert checked.exit_code == 1, checked.stdout + checked.stderr
    report = checked.report
    assert report["ok"] is False
    found = checked.of_kind(kind)
    assert found, f"no {kind} in {report['violations']}"
    assert report["counts"][kind] == len(found)
    return found


# A settled system passes


async def test_a_settled_system_keeps_every_rule(system: Story) -> None:
    checked = await run_check(system.settings, "--json", "--grace", "0")
    assert checked.exit_code == 0, checked.stdout + checked.stderr
    report = checked.report
    assert report["ok"] is True and report["violations"] == []
    assert report["mode"] == system.settings.mode
    assert set(report["counts"].values()) == {0}
    assert report["checked"]["bookings"] == 3
    assert report["checked"]["payments"] == 2
    assert report["checked"]["live_seats"] == 3
    assert report["money"]["completed_payments"] == str(2 * SEAT_PRICE)
    assert report["money"]["confirmed_paid_bookings"] == str(2 * SEAT_PRICE)


@embedded_only
async def test_the_table_says_all_rules_hold(system: Story) -> None:
    checked = await run_check(system.settings)
    assert checked.exit_code == 0, checked.stdout + checked.stderr
    assert "All rules hold." in checked.stdout
    assert "seat_sold_twice" in checked.stdout  # every rule is listed with its count


@embedded_only
async def test_the_command_exits_0_on_a_settled_system(system: Story) -> None:
    done = await check_in_a_process(system.settings, "--grace", "0", "--json")
    assert done.exit_code == 0, done.stdout + done.stderr
    assert done.report["ok"] is True


# Each rule broken on purpose is found


async def test_a_seat_in_two_live_bookings_is_found_whatever_the_grace(system: Story) -> None:
    seat = system.paid_seats[0]
    # The database's own guard goes first (as if lost), then Carol's booking takes Alice's seat.
    await query(system.settings, "booking", "DROP INDEX uq_booking_seats_live_seat")
    await query(
        system.settings,
        "booking",
        "INSERT INTO booking_seats (id, booking_id, showtime_id, seat_id, status, position, "
        "seat_row, seat_number, seat_type, price) SELECT :id, :carol, showtime_id, seat_id, "
        "'pending', 1, seat_row, seat_number, seat_type, price FROM booking_seats "
        "WHERE booking_id = :alice AND seat_id = :seat",
        id=uuid.uuid4(),
        carol=u(system.unpaid),
        alice=u(system.paid),
        seat=u(seat),
    )
    # The default grace: a double sale is never "in flight".
    (found,) = await violations(system.settings, "seat_sold_twice", "--grace", "30")
    assert found["ids"][:2] == [system.showtime_id, seat]
    assert set(found["ids"][2:]) == {system.paid, system.unpaid}
    assert found["service"] == "booking"


@pytest.mark.parametrize("breakage", ["payment lost", "wrong amount"])
async def test_a_confirmed_booking_without_one_payment_of_its_total_is_found(
    system: Story, breakage: str
) -> None:
    if breakage == "payment lost":
        await query(
            system.settings,
            "payment",
            "DELETE FROM payments WHERE id = :id",
            id=u(system.paid_payment),
        )
    else:
        await query(
            system.settings,
            "payment",
            "UPDATE payments SET amount = :amount WHERE id = :id",
            amount=SEAT_PRICE,
            id=u(system.paid_payment),
        )
    (found,) = await violations(system.settings, "booking_payment_mismatch")
    assert found["ids"][0] == system.paid


@embedded_only
async def test_a_booking_charged_twice_is_found(system: Story) -> None:
    await query(system.settings, "payment", "DROP INDEX uq_payments_one_charge_per_booking")
    second = uuid.uuid4()
    await query(
        system.settings,
        "payment",
        "INSERT INTO payments (id, booking_id, booking_code, user_id, user_email, amount, "
        "payment_method, idempotency_key, request_fingerprint, status, created_at, updated_at) "
        "SELECT :id, booking_id, booking_code, user_id, user_email, amount, payment_method, "
        "'another-key', request_fingerprint, 'refunded', created_at, updated_at FROM payments "
        "WHERE id = :paid",
        id=second,
        paid=u(system.paid_payment),
    )
    (found,) = await violations(system.settings, "booking_charged_twice")
    assert found["ids"][0] == system.paid
    assert set(found["ids"][1:]) == {system.paid_payment, str(second)}


@pytest.mark.parametrize("booking_status", ["cancelled", "expired"])
async def test_a_completed_payment_of_a_cancelled_or_expired_booking_is_found(
    system: Story, booking_status: str
) -> None:
    # Bob's refund undone: his money kept, his booking gone.
    await query(
        system.settings,
        "payment",
        "UPDATE payments SET status = 'completed', refunded_at = NULL WHERE id = :id",
        id=u(system.refunded_payment),
    )
    await query(
        system.settings,
        "booking",
        "UPDATE bookings SET status = :status, payment_status = 'paid' WHERE id = :id",
        status=booking_status,
        id=u(system.refunded),
    )
    (found,) = await violations(system.settings, "payment_not_refunded")
    assert found["ids"] == [system.refunded_payment, system.refunded]
    assert booking_status in found["detail"]


@embedded_only
async def test_a_completed_payment_whose_booking_stayed_pending_is_found(system: Story) -> None:
    await query(
        system.settings,
        "booking",
        "UPDATE bookings SET status = 'pending', "
        "payment_status = 'unpaid', confirmed_at = NULL WHERE id = :id",
        id=u(system.paid),
    )
    (found,) = await violations(system.settings, "payment_not_applied")
    assert found["ids"] == [system.paid_payment, system.paid]


@embedded_only
async def test_a_refund_that_left_its_booking_confirmed_is_found(system: Story) -> None:
    await query(
        system.settings,
        "booking",
        "UPDATE bookings SET status = 'confirmed', payment_status = 'paid' WHERE id = :id",
        id=u(system.refunded),
    )
    (found,) = await violations(system.settings, "refund_not_applied")
    assert found["ids"] == [system.refunded_payment, system.refunded]


async def test_a_paid_booking_without_its_confirmation_is_found_once_past_the_grace(
    system: Story,
) -> None:
    await query(
        system.settings,
        "notification",
        "DELETE FROM notifications WHERE booking_id = :id AND type = 'booking.confirmed'",
        id=u(system.paid),
    )
    # Paid just now: its confirmation may still be on its way.
    await query(
        system.settings,
        "booking",
        "UPDATE bookings SET confirmed_at = :at, updated_at = :at WHERE id = :id",
        at=utcnow(),
        id=u(system.paid),
    )
    young = await run_check(system.settings, "--json", "--grace", "30")
    assert young.exit_code == 0, young.stdout
    assert young.report["in_flight"] >= 1
    await query(
        system.settings,
        "booking",
        "UPDATE bookings SET confirmed_at = :at, updated_at = :at WHERE id = :id",
        at=utcnow() - AN_HOUR_AGO,
        id=u(system.paid),
    )
    (found,) = await violations(system.settings, "confirmation_missing", "--grace", "30")
    assert found["ids"] == [system.paid]
    assert found["service"] == "notification"


async def test_an_event_left_in_its_outbox_is_found_once_past_the_grace(system: Story) -> None:
    event_id = uuid.uuid4()
    await query(
        system.settings,
        "payment",
        "INSERT INTO event_outbox (id, name, source, aggregate_id, occurred_at, payload) "
        "VALUES (:id, 'payment.completed', 'payment', :aggregate, :at, '{}')",
        id=event_id,
        aggregate=system.paid_payment,
        at=utcnow(),
    )
    young = await run_check(system.settings, "--json", "--grace", "30")
    assert young.exit_code == 0, young.stdout
    assert young.report["in_flight"] >= 1
    await query(
        system.settings,
        "payment",
        "UPDATE event_outbox SET occurred_at = :at WHERE id = :id",
        at=utcnow() - AN_HOUR_AGO,
        id=event_id,
    )
    (found,) = await violations(system.settings, "outbox_stalled", "--grace", "30")
    assert found["ids"] == [str(event_id)]
    assert found["service"] == "payment"


@pytest.mark.parametrize("breakage", ["release recorded", "creation lost"])
async def test_a_free_seat_count_that_disagrees_with_booking_is_found(
    system: Story, breakage: str
) -> None:
    if breakage == "release recorded":  # Alice's two paid seats counted free again
        booking_id = system.paid
        await query(
            system.settings,
            "movie",
            "UPDATE showtime_bookings SET released = :yes WHERE booking_id = :id",
            yes=True,
            id=u(booking_id),
        )
        movie_free = 12 - 1
    else:  # Carol's booking.created never reached the movie service
        booking_id = system.unpaid
        await query(
            system.settings,
            "movie",
            "DELETE FROM showtime_bookings WHERE booking_id = :id",
            id=u(booking_id),
        )
        movie_free = 12 - 2
    (found,) = await violations(system.settings, "availability_mismatch")
    assert found["ids"] == [system.showtime_id, booking_id]
    assert f"movie says {movie_free} of 12 free, booking has sold 3" in found["detail"]


@embedded_only
async def test_the_table_names_each_violation(system: Story) -> None:
    await query(
        system.settings, "payment", "DELETE FROM payments WHERE id = :id", id=u(system.paid_payment)
    )
    checked = await run_check(system.settings, "--grace", "0")
    assert checked.exit_code == 1
    assert "booking_payment_mismatch" in checked.stdout
    assert system.paid in checked.stdout
    assert "1 violations" in checked.stdout


# Settling, and what cannot be read


@embedded_only
async def test_settle_waits_for_what_is_in_flight(system: Story) -> None:
    event_id = uuid.uuid4()
    await query(
        system.settings,
        "booking",
        "INSERT INTO event_outbox (id, name, source, occurred_at, payload) "
        "VALUES (:id, 'booking.created', 'booking', :at, '{}')",
        id=event_id,
        at=utcnow(),
    )

    async def relay_catches_up() -> None:
        await asyncio.sleep(1.5)
        await query(
            system.settings,
            "booking",
            "UPDATE event_outbox SET published_at = :at WHERE id = :id",
            at=utcnow(),
            id=event_id,
        )

    publishing = asyncio.create_task(relay_catches_up())
    checked = await run_check(system.settings, "--json", "--grace", "0", "--settle", "20")
    await publishing
    assert checked.exit_code == 0, checked.stdout
    assert checked.report["rounds"] >= 2


@embedded_only
async def test_settle_gives_up_when_its_time_is_up(system: Story) -> None:
    await query(
        system.settings,
        "notification",
        "DELETE FROM notifications WHERE booking_id = :id",
        id=u(system.paid),
    )
    began = time.monotonic()
    checked = await run_check(system.settings, "--json", "--grace", "0", "--settle", "1")
    assert checked.exit_code == 1
    assert checked.report["rounds"] >= 2
    assert time.monotonic() - began >= 1


async def test_a_database_it_cannot_read_is_exit_2(system: Story) -> None:
    if system.settings.distributed:
        await drop_databases_with_prefix(f"{system.settings.db_prefix}movies_db")
    else:
        for path in system.settings.data_dir.glob(f"{system.settings.db_prefix}movies_db.*"):
            path.unlink()
    checked = await run_check(system.settings, "--json")
    assert checked.exit_code == 2
    assert "movie" in checked.report["error"]
    assert "movie" in checked.stderr


async def test_database_urls_can_be_given_per_service(system: Story, tmp_path: Path) -> None:
    """One database server per service (compose): each URL given, none derived."""
    urls = [f"--database={s}={system.settings.database_url_for(s)}" for s in SERVICE_NAMES]
    elsewhere = system.settings.model_copy(
        update={"data_dir": tmp_path / "nowhere", "db_prefix": "nowhere_"}
    )
    checked = await run_check(elsewhere, "--json", "--grace", "0", *urls)
    assert checked.exit_code == 0, checked.stdout + checked.stderr
    assert checked.report["checked"]["bookings"] == 3
    assert (await run_check(elsewhere, "--json")).exit_code == 2


# Dead letters: consumers must really give up on an event


def dead_letter_settings(backend: str, tmp_path: Path) -> Settings:
    return build_settings(
        backend,
        tmp_path / "data",
        f"t{uuid.uuid4().hex[:10]}_",
        event_max_attempts=1,
        event_retry_base_seconds=0.05,
    )


@pytest.fixture(params=["sqlite", "postgres"])
def dead_letter_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_an_event_a_consumer_gave_up_on_is_found(
    dead_letter_backend: str, tmp_path: Path
) -> None:
    settings = dead_letter_settings(dead_letter_backend, tmp_path)
    runtime = make_runtime(settings)
    event_id = uuid.uuid4()
    try:
        async with started(settings, runtime) as api:
            assert (await api.get("/api/payments/health")).status_code == 200
            # A payment event that names no customer: the notification service cannot tell
            # anyone, and (after its one attempt here) dead-letters it.
            await query(
                settings,
                "payment",
                "INSERT INTO event_outbox (id, name, source, aggregate_id, occurred_at, "
                "payload) VALUES (:id, 'payment.failed', 'payment', :aggregate, :at, :payload)",
                id=event_id,
                aggregate=str(uuid.uuid4()),
                at=utcnow(),
                payload={"booking_id": str(uuid.uuid4()), "amount": "1.00"},
            )

            async def dead() -> bool:
                return bool(await runtime.bus.dead_letters())

            await eventually(dead, timeout=60)
            checked = await check_in_a_process(settings, "--json")
            assert checked.exit_code == 1, checked.stdout + checked.stderr
            (found,) = checked.of_kind("dead_letter")
        assert found["ids"] == [str(event_id)]
        assert found["service"] == "notification"
        assert "payment.failed" in found["detail"]
        # Still there with the system stopped: dead letters wait to be replayed.
        assert (await violations(settings, "dead_letter"))[0]["ids"] == [str(event_id)]
    finally:
        await cleanup(settings, runtime)


def test_the_readme_explains_every_kind() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    missing = [kind for kind in KINDS if f"| `{kind}` |" not in readme]
    assert missing == []
