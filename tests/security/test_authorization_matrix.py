"""The authorization matrix (issue 11): every operation of the five APIs' OpenAPI documents, as
each kind of caller, on customer A's resources, with the outcome written down in `RULES`.

The callers are anonymous (no token), `customer` (A, who owns the booking, payment and
notification the paths name), `other` (customer B: A's resources are foreign to B), `staff` and
`admin` (foreign to both). A route added to any service without a line in `RULES` fails
`test_every_operation_has_a_rule`, which says what to add; a line naming a route that is gone
fails it too.

It runs on the embedded system (SQLite, in-process adapters) only: the route, dependency and
service code that decides who may do what is the same in both modes (the distributed mode adds
PostgreSQL, Redis and RabbitMQ under it, not another authorization path), and
tests/core/test_auth_matrix.py plus the service suites already run the refusals on PostgreSQL.
That file also sends every protected route an empty body with bad credentials: a refusal comes
before validation. Here each request carries a valid body, so an "ok" is a real 2xx.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from boxoffice.core.auth import issue_token
from boxoffice.embedded import create_embedded_app
from boxoffice.settings import Settings
from boxoffice.topology import GATEWAY_PREFIXES
from tests.conftest import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    TEST_SECRET,
    bearer,
    eventually,
    running_system,
)

on_the_module_loop = pytest.mark.asyncio(loop_scope="module")

ACTORS = ("anonymous", "customer", "other", "staff", "admin")

# The rules: "METHOD /path" (the gateway path, as in the OpenAPI document under /api/<prefix>)
# -> the outcome for each actor, in the order of ACTORS:
#     anonymous  customer (A, the owner)  other (customer B)  staff  admin
# Outcomes:
#     ok    a 2xx: allowed, and it really ran
#     own   a 2xx whose answer holds nothing of A's (ids, booking code, e-mail): the caller is
#           let in but sees only its own
#     401, 403, 404, ...   exactly that status (404 on a path naming A's resource: hidden)
# A key may carry a query string ("GET /path?scope=all"): the same operation asked another way;
# placeholders in it, in the path and in BODIES are filled from the world's ids (see `World`).
# Adding a route: one line here (and a body in BODIES if it takes one).
RULES: dict[str, str] = {
    # auth
    "GET /api/auth/health":                                "ok  ok  ok  ok  ok",
    "GET /api/auth/health/ready":                          "ok  ok  ok  ok  ok",
    "GET /api/auth/health/live":                           "ok  ok  ok  ok  ok",
    "POST /api/auth/register":                             "ok  ok  ok  ok  ok",
    "POST /api/auth/token":                                "ok  ok  ok  ok  ok",
    "GET /api/auth/verify":                                "401 ok  ok  ok  ok",
    "GET /api/auth/profile":                               "401 ok  ok  ok  ok",
    "PUT /api/auth/profile":                               "401 ok  ok  ok  ok",
    "POST /api/auth/change-password":                      "401 ok  ok  ok  ok",
    "POST /api/auth/logout":                               "401 ok  ok  ok  ok",
    "GET /api/auth/users":                                 "401 403 403 403 ok",
    "PUT /api/auth/users/{user_id}/role":                  "401 403 403 403 ok",
    "POST /api/auth/users":                                "401 403 403 403 ok",
    "POST /api/auth/users/{user_id}/deactivate":           "401 403 403 403 ok",
    "POST /api/auth/users/{user_id}/reactivate":           "401 403 403 403 ok",
    # movie: the catalogue is public, changing it is for admins
    "GET /api/movies/health":                              "ok  ok  ok  ok  ok",
    "GET /api/movies/health/ready":                        "ok  ok  ok  ok  ok",
    "GET /api/movies/health/live":                         "ok  ok  ok  ok  ok",
    "GET /api/movies/movies":                              "ok  ok  ok  ok  ok",
    "POST /api/movies/movies":                             "401 403 403 403 ok",
    "GET /api/movies/movies/{movie_id}":                   "ok  ok  ok  ok  ok",
    "PUT /api/movies/movies/{movie_id}":                   "401 403 403 403 ok",
    "DELETE /api/movies/movies/{movie_id}":                "401 403 403 403 ok",
    "GET /api/movies/theaters":                            "ok  ok  ok  ok  ok",
    "POST /api/movies/theaters":                           "401 403 403 403 ok",
    "GET /api/movies/theaters/{theater_id}":               "ok  ok  ok  ok  ok",
    "PUT /api/movies/theaters/{theater_id}":               "401 403 403 403 ok",
    "DELETE /api/movies/theaters/{theater_id}":            "401 403 403 403 ok",
    "GET /api/movies/seats/{theater_id}":                  "ok  ok  ok  ok  ok",
    "GET /api/movies/showtimes":                           "ok  ok  ok  ok  ok",
    "POST /api/movies/showtimes":                          "401 403 403 403 ok",
    "GET /api/movies/showtimes/{showtime_id}":             "ok  ok  ok  ok  ok",
    "PUT /api/movies/showtimes/{showtime_id}":             "401 403 403 403 ok",
    "DELETE /api/movies/showtimes/{showtime_id}":          "401 403 403 403 ok",
    "GET /api/movies/showtimes/{showtime_id}/available-seats": "own ok  own own own",
    # booking: a booking is its owner's; staff read (and check in) any, only the owner cancels
    "GET /api/bookings/health":                            "ok  ok  ok  ok  ok",
    "GET /api/bookings/health/ready":                      "ok  ok  ok  ok  ok",
    "GET /api/bookings/health/live":                       "ok  ok  ok  ok  ok",
    "POST /api/bookings/book":                             "401 ok  ok  ok  ok",
    "GET /api/bookings/bookings":                          "401 ok  own own own",
    "GET /api/bookings/bookings?user_id={owner_id}":       "401 ok  403 ok  ok",
    "GET /api/bookings/bookings?scope=all":                "401 403 403 ok  ok",
    "GET /api/bookings/bookings?booking_code={booking_code}": "401 ok  own own own",
    "GET /api/bookings/bookings?scope=all&booking_code={booking_code}": "401 403 403 ok  ok",
    "POST /api/bookings/bookings/check-in":                "401 403 403 ok  ok",
    "GET /api/bookings/bookings/{booking_id}":             "401 ok  404 ok  ok",
    "POST /api/bookings/bookings/{booking_id}/cancel":     "401 ok  404 403 403",
    "POST /api/bookings/bookings/{booking_id}/refund-approval": "401 ok  404 404 ok",
    "POST /api/bookings/seats/hold":                       "401 ok  ok  ok  ok",
    "POST /api/bookings/seats/hold-best":                  "401 ok  ok  ok  ok",
    "POST /api/bookings/seats/release":                    "401 ok  own own own",
    "GET /api/bookings/showtimes/{showtime_id}/seat-status": "own ok  own own own",
    "GET /api/bookings/showtimes/{showtime_id}/seat-events": "own ok  own own own",
    "GET /api/bookings/showtimes/{showtime_id}/best-seats": "own ok  own own own",
    # booking's sales reports are the admin's alone
    "GET /api/bookings/showtimes/{showtime_id}/sales":     "401 403 403 403 ok",
    "GET /api/bookings/sales/daily?from=2026-01-01&to=2026-12-31": "401 403 403 403 ok",
    # payment: a payment is its owner's; admins see and refund any; nobody pays another's booking
    "GET /api/payments/health":                            "ok  ok  ok  ok  ok",
    "GET /api/payments/health/ready":                      "ok  ok  ok  ok  ok",
    "GET /api/payments/health/live":                       "ok  ok  ok  ok  ok",
    "POST /api/payments/process":                          "401 ok  404 404 404",
    "GET /api/payments/payments":                          "401 ok  own own ok",
    "GET /api/payments/payments?user_id={owner_id}":       "401 ok  own own ok",
    "GET /api/payments/payments?booking_id={booking_id}":  "401 ok  own own ok",
    "GET /api/payments/payments/{payment_id}":             "401 ok  404 404 ok",
    "POST /api/payments/payments/{payment_id}/refund":     "401 ok  404 404 ok",
    "POST /api/payments/reconcile?dry_run=true":           "401 403 403 403 ok",
    # notification: a notice is its addressee's alone; admins send
    "GET /api/notifications/health":                       "ok  ok  ok  ok  ok",
    "GET /api/notifications/health/ready":                 "ok  ok  ok  ok  ok",
    "GET /api/notifications/health/live":                  "ok  ok  ok  ok  ok",
    "POST /api/notifications/send":                        "401 403 403 403 ok",
    "GET /api/notifications/notifications":                "401 ok  own own own",
    "GET /api/notifications/notifications/unread-count":   "401 ok  ok  ok  ok",
    "POST /api/notifications/notifications/read-all":      "401 ok  own own own",
    "POST /api/notifications/notifications/{notification_id}/read": "401 ok  404 404 404",
}  # fmt: skip

# Request bodies, by operation; strings are templates filled like the paths. A `Form` is sent
# as a form, the rest as JSON.


@dataclass(frozen=True)
class Form:
    fields: dict[str, str]


BODIES: dict[str, Any] = {
    "POST /api/auth/register": {
        "email": "{new_email}",
        "username": "{new_username}",
        "password": "{new_password}",
    },
    "POST /api/auth/token": Form({"username": "{target_email}", "password": "{target_password}"}),
    "PUT /api/auth/profile": {"full_name": "Matrix Tester"},
    "POST /api/auth/change-password": {
        "current_password": "{password}",
        "new_password": "{new_password}",
    },
    "PUT /api/auth/users/{user_id}/role": {"role": "customer"},
    "POST /api/auth/users": {
        "email": "{new_email}",
        "password": "{new_password}",
        "role": "staff",
    },
    "POST /api/movies/movies": {"title": "{new_username}", "duration_minutes": 95},
    "PUT /api/movies/movies/{movie_id}": {"description": "Seen by the authorization matrix"},
    "PUT /api/movies/theaters/{theater_id}": {"location": "3 Matrix St"},
    "PUT /api/movies/showtimes/{showtime_id}": {"price": "90000.00"},
    "POST /api/movies/theaters": {
        "name": "{new_username}",
        "location": "2 Side St",
        "city": "Hanoi",
        "rows": 2,
        "seats_per_row": 2,
    },
    "POST /api/movies/showtimes": {
        "movie_id": "{movie_id}",
        "theater_id": "{theater_id}",
        "show_date": "{new_show_date}",
        "show_time": "10:00",
        "price": "50000.00",
    },
    "POST /api/bookings/book": {"showtime_id": "{showtime_id}", "seat_ids": ["{seat_id}"]},
    "POST /api/bookings/bookings/check-in": {"booking_code": "{booking_code}"},
    "POST /api/bookings/bookings/{booking_id}/refund-approval": {"payment_id": "{payment_id}"},
    "POST /api/bookings/seats/hold": {"showtime_id": "{showtime_id}", "seat_ids": ["{seat_id}"]},
    "POST /api/bookings/seats/hold-best": {"showtime_id": "{showtime_id}", "count": 1},
    "POST /api/bookings/seats/release": {
        "showtime_id": "{showtime_id}",
        "seat_ids": ["{seat_id}"],
    },
    "POST /api/payments/process": {
        "booking_id": "{booking_id}",
        "payment_method": "credit_card",
        "amount": "{amount}",
    },
    "POST /api/notifications/send": {
        "user_id": "{owner_id}",
        "subject": "From the matrix",
        "message": "An admin's notice",
    },
}

# What a case must have of its own, made just before it runs, because the route changes or uses
# it up (a cancelled booking cannot be cancelled by the next actor). Names are `World.fresh_*`;
# "actor" is a new user of the actor's role.
FRESH: dict[str, tuple[str, ...]] = {
    "POST /api/auth/change-password": ("actor",),
    "PUT /api/auth/users/{user_id}/role": ("target_user",),
    "POST /api/auth/users/{user_id}/deactivate": ("target_user",),
    "POST /api/auth/users/{user_id}/reactivate": ("target_user",),
    "DELETE /api/movies/movies/{movie_id}": ("movie",),
    "DELETE /api/movies/theaters/{theater_id}": ("theater",),
    "DELETE /api/movies/showtimes/{showtime_id}": ("showtime",),
    "POST /api/bookings/book": ("seat",),
    "POST /api/bookings/seats/hold": ("seat",),
    "POST /api/bookings/seats/hold-best": ("showtime",),
    "POST /api/bookings/seats/release": ("held_seat",),
    "POST /api/bookings/bookings/check-in": ("paid_booking",),
    "POST /api/bookings/bookings/{booking_id}/cancel": ("pending_booking",),
    "POST /api/bookings/bookings/{booking_id}/refund-approval": ("paid_booking",),
    "POST /api/payments/process": ("pending_booking",),
    "POST /api/payments/payments/{payment_id}/refund": ("paid_booking",),
    "POST /api/notifications/notifications/read-all": ("unread_notice",),
}

# The ids whose appearance in an answer means it showed something of A's (outcome `own`).
PRIVATE = ("owner_id", "owner_email", "booking_id", "booking_code", "payment_id", "notification_id")

SEAT_ROWS = SEATS_PER_ROW = 20


# -- the operations, from each service's OpenAPI document -------------------------------------


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    streams: bool  # a server-sent-events stream: read its start, then hang up

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


def _settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "BOXOFFICE_MODE": "embedded",
        "secret_key": TEST_SECRET,
        "bcrypt_rounds": 4,
        "BOXOFFICE_DATA_DIR": data_dir,
        "BOXOFFICE_DB_PREFIX": "authz_",
        "BOXOFFICE_ADMIN_EMAIL": ADMIN_EMAIL,
        "BOXOFFICE_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "BOXOFFICE_DEMO_DATA": False,
        "log_json": False,
        "log_level": "WARNING",
        "http_retries": 1,
        # The matrix keeps many small unpaid bookings and holds for A; the fair-share caps
        # (tests/security/test_hoarding.py) are not what it is about.
        "max_unpaid_seats_per_showtime": 100,
        "max_unpaid_seats_in_all": 100,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def openapi_operations(app: Any) -> list[Operation]:
    """Every operation of every service's OpenAPI document, under its gateway prefix."""
    operations = []
    for name, service_app in app.state.service_apps.items():
        for path, methods in service_app.openapi()["paths"].items():
            for method, spec in methods.items():
                content = spec.get("responses", {}).get("200", {}).get("content", {})
                operations.append(
                    Operation(
                        method.upper(),
                        f"/api/{GATEWAY_PREFIXES[name]}{path}",
                        streams="text/event-stream" in content,
                    )
                )
    return sorted(operations, key=lambda op: (op.path, op.method))


# Built once at collection, never started: only its OpenAPI documents are read.
OPERATIONS = {
    op.key: op
    for op in openapi_operations(
        create_embedded_app(_settings(Path("."), database_url="sqlite+aiosqlite:///:memory:"))
    )
}


def operation_of(rule: str) -> str:
    """The operation a rule is about: its key without the query string."""
    return rule.split("?", 1)[0]


def outcomes(rule: str) -> dict[str, str]:
    return dict(zip(ACTORS, RULES[rule].split(), strict=True))


CASES = [
    pytest.param(rule, actor, id=f"{rule} as {actor}")
    for rule in RULES
    if operation_of(rule) in OPERATIONS
    for actor in ACTORS
]


# -- the world the cases run in ---------------------------------------------------------------


@dataclass
class User:
    user_id: str
    email: str
    password: str
    role: str


@dataclass
class World:
    """The running system, its users, and A's resources (the `ids` the templates are filled
    from). `customer` is A, `other` is B; `target` is a bystander whose role admins change and
    who logs in."""

    api: httpx.AsyncClient
    settings: Settings
    users: dict[str, User] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)
    seat_ids: list[str] = field(default_factory=list)
    days: int = 0

    def token(self, user: User) -> str:
        # Minted as the auth service does (every service verifies locally): a fresh token per
        # case, so that a case logging out does not log out the next one.
        token, _ = issue_token(
            self.settings, user_id=uuid.UUID(user.user_id), email=user.email, role=user.role
        )
        return token

    def as_(self, actor: str) -> dict[str, str]:
        return bearer(self.token(self.users[actor]))

    def next_day(self) -> int:
        self.days += 1
        return self.days

    def next_seat(self) -> str:
        return self.seat_ids.pop()

    async def register(self, role: str = "customer") -> User:
        tag = uuid.uuid4().hex[:10]
        user = User("", f"m{tag}@matrix.test", f"Matrix-{tag}-pw", role)
        response = await self.api.post(
            "/api/auth/register",
            json={"email": user.email, "username": f"m{tag}", "password": user.password},
        )
        assert response.status_code == 201, response.text
        user.user_id = response.json()["id"]
        if role != "customer":
            promoted = await self.api.put(
                f"/api/auth/users/{user.user_id}/role",
                json={"role": role},
                headers=self.as_("admin"),
            )
            assert promoted.status_code == 200, promoted.text
            # A role change may invalidate the user's tokens issued before it (issue 11,
            # finding 3), to the second: tokens minted from the next second on are the new ones.
            await asyncio.sleep(1.05)
        return user

    async def book(self) -> dict[str, Any]:
        response = await self.api.post(
            "/api/bookings/book",
            json={"showtime_id": self.ids["showtime_id"], "seat_ids": [self.next_seat()]},
            headers=self.as_("customer"),
        )
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]

    async def pay(self, booking: dict[str, Any]) -> dict[str, Any]:
        response = await self.api.post(
            "/api/payments/process",
            json={
                "booking_id": booking["id"],
                "payment_method": "credit_card",
                "amount": booking["total_price"],
            },
            headers={**self.as_("customer"), "Idempotency-Key": uuid.uuid4().hex},
        )
        assert response.status_code == 201, response.text

        async def confirmed() -> bool:
            got = await self.api.get(
                f"/api/bookings/bookings/{booking['id']}", headers=self.as_("customer")
            )
            return got.json()["payment_status"] == "paid"

        await eventually(confirmed)
        return response.json()  # type: ignore[no-any-return]

    # Fresh things for one case (FRESH): each returns ids that override the world's.

    async def fresh_target_user(self) -> dict[str, str]:
        # For the admin routes on {user_id}: the target of the world (who logs in) stays as is.
        return {"user_id": (await self.register()).user_id}

    async def fresh_movie(self) -> dict[str, str]:
        response = await self.api.post(
            "/api/movies/movies",
            json={"title": "Short-lived", "duration_minutes": 90},
            headers=self.as_("admin"),
        )
        assert response.status_code == 201, response.text
        return {"movie_id": response.json()["id"]}

    async def fresh_theater(self) -> dict[str, str]:
        response = await self.api.post(
            "/api/movies/theaters",
            json={"name": "Short-lived", "location": "4 Side St", "city": "Hanoi", "rows": 1,
                  "seats_per_row": 2},
            headers=self.as_("admin"),
        )  # fmt: skip
        assert response.status_code == 201, response.text
        return {"theater_id": response.json()["id"]}

    async def fresh_showtime(self) -> dict[str, str]:
        day = dt.date.today() + dt.timedelta(days=2 + self.next_day())
        response = await self.api.post(
            "/api/movies/showtimes",
            json={"movie_id": self.ids["movie_id"], "theater_id": self.ids["theater_id"],
                  "show_date": day.isoformat(), "show_time": "10:00", "price": "50000.00"},
            headers=self.as_("admin"),
        )  # fmt: skip
        assert response.status_code == 201, response.text
        return {"showtime_id": response.json()["id"]}

    async def fresh_seat(self) -> dict[str, str]:
        return {"seat_id": self.next_seat()}

    async def fresh_held_seat(self) -> dict[str, str]:
        seat = self.next_seat()
        response = await self.api.post(
            "/api/bookings/seats/hold",
            json={"showtime_id": self.ids["showtime_id"], "seat_ids": [seat]},
            headers=self.as_("customer"),
        )
        assert response.status_code == 200, response.text
        return {"seat_id": seat}

    async def fresh_pending_booking(self) -> dict[str, str]:
        booking = await self.book()
        return {
            "booking_id": booking["id"],
            "booking_code": booking["booking_code"],
            "amount": str(booking["total_price"]),
        }

    async def fresh_paid_booking(self) -> dict[str, str]:
        booking = await self.book()
        payment = await self.pay(booking)
        return {
            "booking_id": booking["id"],
            "booking_code": booking["booking_code"],
            "payment_id": payment["id"],
        }

    async def fresh_unread_notice(self) -> dict[str, str]:
        return {"notification_id": await self.notify_owner()}

    async def notify_owner(self) -> str:
        response = await self.api.post(
            "/api/notifications/send",
            json={"user_id": self.ids["owner_id"], "subject": "For A", "message": "Only A's"},
            headers=self.as_("admin"),
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])


async def build_world(api: httpx.AsyncClient, settings: Settings) -> World:
    world = World(api, settings)
    login = await api.post(
        "/api/auth/token", data={"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    assert login.status_code == 200, login.text
    me = await api.get("/api/auth/verify", headers=bearer(login.json()["access_token"]))
    assert me.status_code == 200, me.text
    world.users["admin"] = User(me.json()["user"]["id"], ADMIN_EMAIL, ADMIN_PASSWORD, "admin")
    world.users["customer"] = await world.register()
    world.users["other"] = await world.register()
    world.users["staff"] = await world.register("staff")
    target = await world.register()
    owner = world.users["customer"]

    admin = world.as_("admin")
    movie = await api.post(
        "/api/movies/movies", json={"title": "Matrix", "duration_minutes": 120}, headers=admin
    )
    assert movie.status_code == 201, movie.text
    theater = await api.post(
        "/api/movies/theaters",
        json={
            "name": "Hall M",
            "location": "1 Main St",
            "city": "Hanoi",
            "rows": SEAT_ROWS,
            "seats_per_row": SEATS_PER_ROW,
        },
        headers=admin,
    )
    assert theater.status_code == 201, theater.text
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    show = await api.post(
        "/api/movies/showtimes",
        json={
            "movie_id": movie.json()["id"],
            "theater_id": theater.json()["id"],
            "show_date": tomorrow,
            "show_time": "19:30",
            "price": "90000.00",
        },
        headers=admin,
    )
    assert show.status_code == 201, show.text
    seats = await api.get(f"/api/movies/seats/{theater.json()['id']}")
    assert seats.status_code == 200, seats.text
    world.seat_ids = [seat["id"] for seat in seats.json()]
    world.ids.update(
        movie_id=movie.json()["id"],
        theater_id=theater.json()["id"],
        showtime_id=show.json()["id"],
        owner_id=owner.user_id,
        owner_email=owner.email,
        user_id=target.user_id,
        target_email=target.email,
        target_password=target.password,
    )
    booking = await world.book()
    payment = await world.pay(booking)
    world.ids.update(
        booking_id=booking["id"],
        booking_code=booking["booking_code"],
        payment_id=payment["id"],
        amount=str(booking["total_price"]),
    )
    world.ids["notification_id"] = await world.notify_owner()
    return world


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    settings = _settings(tmp_path_factory.mktemp("authz"))
    async with running_system(settings) as api:
        yield await build_world(api, settings)


# -- sending a case ---------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def fill(template: Any, ids: dict[str, str], where: str) -> Any:
    """The template with every {name} replaced by ids[name]."""
    if isinstance(template, Form):
        return Form(fill(template.fields, ids, where))
    if isinstance(template, dict):
        return {key: fill(value, ids, where) for key, value in template.items()}
    if isinstance(template, list):
        return [fill(value, ids, where) for value in template]
    if not isinstance(template, str):
        return template

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in ids:
            pytest.fail(f"{where}: no value for {{{name}}}; add it to the world's ids")
        return ids[name]

    return _PLACEHOLDER.sub(value, template)


async def open_stream(app: Any, url: str, headers: dict[str, str]) -> httpx.Response:
    """The start of a never-ending response: its status and first chunk, then the client leaves.

    (httpx's ASGI transport waits for the whole body, which a live stream never finishes.)
    """
    path, _, query = url.partition("?")
    started: dict[str, Any] = {}
    first_chunk = asyncio.Event()
    leave = asyncio.Event()
    asked = False

    async def receive() -> dict[str, Any]:
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await leave.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            started.update(status=message["status"], headers=message.get("headers", []))
        elif message["type"] == "http.response.body":
            started["body"] = started.get("body", b"") + message.get("body", b"")
            first_chunk.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("test", 80),
    }
    task = asyncio.create_task(app(scope, receive, send))
    try:
        await asyncio.wait_for(first_chunk.wait(), 10)
    finally:
        leave.set()
        try:
            await asyncio.wait_for(task, 5)
        except (TimeoutError, asyncio.CancelledError):
            pass
    return httpx.Response(
        started["status"],
        headers=[(k.decode(), v.decode()) for k, v in started["headers"]],
        content=started.get("body", b""),
    )


async def send_case(world: World, rule: str, actor: str) -> tuple[httpx.Response, dict[str, str]]:
    op = OPERATIONS[operation_of(rule)]
    tag = uuid.uuid4().hex[:10]
    ids = {
        **world.ids,
        "new_email": f"n{tag}@matrix.test",
        "new_username": f"n{tag}",
        "new_password": f"Fresh-{tag}-pw",
        # A day of its own: a showtime may not overlap another in the same theater.
        "new_show_date": (dt.date.today() + dt.timedelta(days=2 + world.next_day())).isoformat(),
    }
    user = world.users.get(actor)
    fresh = FRESH.get(op.key, ())
    if user is not None and "actor" in fresh:
        # A user of the actor's role for this case alone (the route changes its account).
        user = await world.register(user.role)
    ids["password"] = user.password if user is not None else "Whatever-pw-1"
    for thing in fresh:
        if thing != "actor":
            ids.update(await getattr(world, f"fresh_{thing}")())
    url = fill(rule.split(" ", 1)[1], ids, rule)
    headers = bearer(world.token(user)) if user is not None else {}
    # Only /process reads it; a fresh one everywhere keeps the table free of headers.
    headers["Idempotency-Key"] = uuid.uuid4().hex
    if op.streams:
        return await open_stream(world.api.app, url, headers), ids  # type: ignore[attr-defined]
    body = fill(BODIES.get(op.key), ids, rule)
    if isinstance(body, Form):
        response = await world.api.request(op.method, url, data=body.fields, headers=headers)
    else:
        response = await world.api.request(op.method, url, json=body, headers=headers)
    return response, ids


def _check_outcome(response: httpx.Response, expected: str, ids: dict[str, str], what: str) -> None:
    if expected in ("ok", "own"):
        hint = ""
        if response.status_code == 422 and what.split(" as ")[0].split("?")[0] not in BODIES:
            hint = " (does the route need a body in BODIES?)"
        assert 200 <= response.status_code < 300, (
            f"{what}: expected a 2xx, got {response.status_code} {response.text[:300]}{hint}"
        )
        if expected == "own":
            leaked = [name for name in PRIVATE if ids[name].lower() in response.text.lower()]
            assert not leaked, f"{what}: the answer shows A's {leaked}: {response.text[:300]}"
        return
    assert response.status_code == int(expected), (
        f"{what}: expected {expected}, got {response.status_code} {response.text[:300]}"
    )
    body = response.json()
    assert body["status_code"] == response.status_code, f"{what}: not the error shape: {body}"


# Checks that a non-owner's allowed call left A's things alone (the answer alone cannot say).
async def _release_kept_a_hold(world: World, ids: dict[str, str], response: httpx.Response) -> None:
    assert response.json()["released"] == [], "released a seat A holds"


async def _notice_still_unread(world: World, ids: dict[str, str], response: httpx.Response) -> None:
    mine = await world.api.get("/api/notifications/notifications", headers=world.as_("customer"))
    notice = next(n for n in mine.json() if n["id"] == ids["notification_id"])
    assert notice["read_at"] is None, "marked A's notice read"


LEFT_ALONE: dict[str, Callable[[World, dict[str, str], httpx.Response], Awaitable[None]]] = {
    "POST /api/bookings/seats/release": _release_kept_a_hold,
    "POST /api/notifications/notifications/read-all": _notice_still_unread,
}


# -- the tests --------------------------------------------------------------------------------


def test_every_operation_has_a_rule():
    missing = sorted(set(OPERATIONS) - {operation_of(rule) for rule in RULES})
    stale = sorted(rule for rule in RULES if operation_of(rule) not in OPERATIONS)
    problems = []
    if missing:
        lines = "\n".join(f'    "{key}": "?   ?   ?   ?   ?",' for key in missing)
        problems.append(
            "These operations have no authorization rule. Add a line for each to RULES in "
            f"{Path(__file__).name}, with the outcome for anonymous, customer (owner), other "
            "customer, staff and admin (ok / own / a status; see the legend above RULES), and "
            "a body in BODIES if the route takes one. Replace each ? below:\n" + lines
        )
    if stale:
        problems.append(
            "These rules name operations that no OpenAPI document has any more (renamed or "
            "removed routes): remove or fix them:\n" + "\n".join(f"    {r}" for r in stale)
        )
    assert not problems, "\n\n".join(problems)


def test_every_rule_is_well_formed():
    for rule, row in RULES.items():
        assert re.fullmatch(r"[A-Z]+ /\S+", rule), f"{rule!r}: write it as 'METHOD /path[?query]'"
        cells = row.split()
        assert len(cells) == len(ACTORS), f"{rule}: one outcome for each of {ACTORS}"
        for cell in cells:
            assert cell in ("ok", "own") or re.fullmatch(r"[1-5]\d\d", cell), f"{rule}: {cell!r}"
    for key in [*BODIES, *FRESH, *LEFT_ALONE]:
        assert key in OPERATIONS, f"{key}: no such operation (BODIES / FRESH / LEFT_ALONE)"


def test_the_matrix_covers_the_five_apis():
    prefixes = {key.split(" ")[1].split("/")[2] for key in OPERATIONS}
    assert prefixes == set(GATEWAY_PREFIXES.values())
    # Spot checks that the document is the one the routes serve.
    assert "PUT /api/auth/users/{user_id}/role" in OPERATIONS
    assert OPERATIONS["GET /api/bookings/showtimes/{showtime_id}/seat-events"].streams


@pytest.mark.parametrize(("rule", "actor"), CASES)
@on_the_module_loop
async def test_authorization_matrix(world, rule, actor):
    expected = outcomes(rule)[actor]
    response, ids = await send_case(world, rule, actor)
    _check_outcome(response, expected, ids, f"{rule} as {actor}")
    left_alone = LEFT_ALONE.get(operation_of(rule))
    if left_alone is not None and actor != "customer" and expected in ("ok", "own"):
        await left_alone(world, ids, response)
