"""The auth matrix, generated from the route table of the whole embedded system.

Every route whose dependencies include the core `CurrentUser` (directly, or through a role
check such as `AdminUser`) is sent each kind of bad credential and must refuse it with a 401
(403 for a valid token of the wrong role) in the error shape. Routes added later by any service
are covered without touching this file.
"""

from __future__ import annotations

import base64
import datetime as dt
import inspect
import json
import re
import typing
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import pytest_asyncio
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import Mount

from boxoffice.core.auth import ROLES, CurrentUser, issue_token, require_role
from boxoffice.embedded import create_embedded_app
from boxoffice.settings import Settings
from tests.conftest import TEST_SECRET, running_system

# The tests share one running system, started once for the module.
on_the_module_loop = pytest.mark.asyncio(loop_scope="module")

# The dependency behind `CurrentUser`: any route that reaches it demands a valid token.
_CURRENT_USER = typing.get_args(CurrentUser)[1].dependency
_ROLE_CHECK_QUALNAME = require_role("admin").__qualname__


def _settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "BOXOFFICE_MODE": "embedded",
        "secret_key": TEST_SECRET,
        "bcrypt_rounds": 4,
        "BOXOFFICE_DATA_DIR": data_dir,
        "BOXOFFICE_DB_PREFIX": "matrix_",
        "BOXOFFICE_DEMO_DATA": False,
        "log_json": False,
        "log_level": "WARNING",
        "http_retries": 1,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass(frozen=True)
class GuardedRoute:
    """A route that needs a token; `roles` is who may pass its role check (None: anyone)."""

    method: str
    path: str
    roles: tuple[str, ...] | None

    def url(self) -> str:
        """The path with every parameter filled with a fresh UUID."""
        return re.sub(r"\{[^}]+\}", lambda _: str(uuid.uuid4()), self.path)


def _dependency_calls(dependant: Any) -> Iterator[Callable[..., Any]]:
    for dep in dependant.dependencies:
        if dep.call is not None:
            yield dep.call
        yield from _dependency_calls(dep)


def _allowed_roles(calls: list[Callable[..., Any]]) -> tuple[str, ...] | None:
    allowed: set[str] | None = None
    for call in calls:
        if getattr(call, "__qualname__", "") == _ROLE_CHECK_QUALNAME:
            roles = set(inspect.getclosurevars(call).nonlocals["roles"])
            allowed = roles if allowed is None else allowed & roles
    return tuple(r for r in ROLES if r in allowed) if allowed is not None else None


def _walk(routes: list[Any], prefix: str = "") -> Iterator[GuardedRoute]:
    # FastAPI keeps included routers as nested branches; iter_route_contexts flattens them into
    # the effective routes (router-level dependencies included).
    for context in iter_route_contexts(routes):
        route = context.original_route
        if isinstance(route, Mount):
            yield from _walk(list(getattr(route.app, "routes", [])), prefix + route.path)
        elif isinstance(route, APIRoute):
            calls = list(_dependency_calls(context.dependant))
            if _CURRENT_USER not in calls:
                continue
            for method in sorted(context.methods or ()):
                yield GuardedRoute(method, prefix + context.path_format, _allowed_roles(calls))


def guarded_routes(app: FastAPI) -> list[GuardedRoute]:
    return sorted(set(_walk(list(app.routes))), key=lambda r: (r.path, r.method))


# Built once at collection, never started: only its route table is read.
ROUTES = guarded_routes(
    create_embedded_app(_settings(Path("."), database_url="sqlite+aiosqlite:///:memory:"))
)

BAD_CREDENTIALS = [
    "no_token",
    "expired",
    "tampered_payload",
    "foreign_signature",
    "alg_none",
    "revoked",
    "garbage",
]


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def system(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[httpx.AsyncClient]:
    settings = _settings(tmp_path_factory.mktemp("matrix"))
    async with running_system(settings) as client:
        client.settings = settings  # type: ignore[attr-defined]
        yield client


async def bad_token(system: httpx.AsyncClient, kind: str) -> str | None:
    """A credential of the given kind, for a customer that may as well exist."""
    settings: Settings = system.settings  # type: ignore[attr-defined]
    user = {"user_id": uuid.uuid4(), "email": "mallory@example.com"}
    if kind == "no_token":
        return None
    if kind == "expired":
        return issue_token(settings, **user, role="admin", expires_in=dt.timedelta(minutes=-1))[0]
    valid, _ = issue_token(settings, **user, role="customer")
    header, _, signature = valid.split(".")
    if kind == "tampered_payload":
        # Promote ourselves to admin and keep the original signature.
        return f"{header}.{_b64({**_claims(valid), 'role': 'admin'})}.{signature}"
    if kind == "foreign_signature":
        return jwt.encode(_claims(valid), "some-other-key-" + "x" * 32, algorithm="HS256")
    if kind == "alg_none":
        forged = {**_claims(valid), "role": "admin"}
        return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(forged)}."
    if kind == "revoked":
        await system.runtime.revocations.revoke(_claims(valid)["jti"], 600)  # type: ignore[attr-defined]
        return valid
    if kind == "garbage":
        return "not-a-jwt"
    raise ValueError(kind)


def _assert_refused(response: httpx.Response, status: int, what: str) -> None:
    assert response.status_code == status, f"{what}: {response.status_code} {response.text}"
    body = response.json()
    assert body["status_code"] == status, f"{what}: {body}"
    assert isinstance(body["detail"], str) and isinstance(body["error_type"], str), what
    if status == 401:
        assert response.headers.get("WWW-Authenticate") == "Bearer", what


def test_the_matrix_sees_the_routes_we_know_are_protected():
    by_route = {(r.method, r.path): r.roles for r in ROUTES}
    assert by_route[("GET", "/api/auth/verify")] is None
    assert by_route[("POST", "/api/auth/logout")] is None
    assert by_route[("PUT", "/api/auth/users/{user_id}/role")] == ("admin",)
    assert ("POST", "/api/auth/token") not in by_route
    assert ("POST", "/api/auth/register") not in by_route


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
@pytest.mark.parametrize("kind", BAD_CREDENTIALS)
@on_the_module_loop
async def test_a_protected_route_refuses_bad_credentials(system, route, kind):
    token = await bad_token(system, kind)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await system.request(route.method, route.url(), headers=headers, json={})
    _assert_refused(response, 401, f"{route.method} {route.path} with {kind}")


GUARDED_BY_ROLE = [r for r in ROUTES if r.roles is not None and set(ROLES) - set(r.roles)]


@pytest.mark.parametrize("route", GUARDED_BY_ROLE, ids=lambda r: f"{r.method} {r.path}")
@on_the_module_loop
async def test_a_role_guarded_route_refuses_a_valid_token_of_the_wrong_role(system, route):
    settings: Settings = system.settings  # type: ignore[attr-defined]
    assert route.roles is not None
    wrong_role = next(role for role in ROLES if role not in route.roles)
    token, _ = issue_token(settings, user_id=uuid.uuid4(), email="eve@example.com", role=wrong_role)
    response = await system.request(
        route.method, route.url(), headers={"Authorization": f"Bearer {token}"}, json={}
    )
    _assert_refused(response, 403, f"{route.method} {route.path} as {wrong_role}")
