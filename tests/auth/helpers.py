"""Factories for the auth tests: sign up, log in, look in the auth database."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import sqlalchemy as sa

from boxoffice.auth.models import User
from boxoffice.core.db import Database


def auth_db(api: httpx.AsyncClient) -> Database:
    """The auth service's database behind a running system."""
    return api.app.state.service_apps["auth"].state.ctx.db  # type: ignore[attr-defined,no-any-return]


async def users_with_email(api: httpx.AsyncClient, email: str) -> list[User]:
    async with auth_db(api).sessionmaker() as session:
        rows = await session.scalars(sa.select(User).where(User.email == email.lower()))
        return list(rows.all())


def new_user(**overrides: Any) -> dict[str, Any]:
    """A fresh, valid registration body."""
    tag = uuid.uuid4().hex[:8]
    body: dict[str, Any] = {
        "email": f"fan-{tag}@example.com",
        "username": f"fan{tag}",
        "password": "popcorn123",
        "full_name": "Film Fan",
        "phone_number": "+84 912 345 678",
    }
    body.update(overrides)
    return body


async def register(api: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    """Register a customer; returns the registration body plus the created user's `id`."""
    body = new_user(**overrides)
    response = await api.post("/api/auth/register", json=body)
    assert response.status_code == 201, response.text
    return {**body, "id": response.json()["id"]}


async def login(api: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await api.post("/api/auth/token", data={"username": username, "password": password})


async def token_of(api: httpx.AsyncClient, username: str, password: str) -> str:
    response = await login(api, username, password)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def signed_up(api: httpx.AsyncClient, **overrides: Any) -> tuple[dict[str, Any], str]:
    """A registered customer and their access token."""
    user = await register(api, **overrides)
    return user, await token_of(api, user["email"], user["password"])


def is_error(response: httpx.Response, status: int, error_type: str | None = None) -> bool:
    """Whether a response is the design's error shape with this status (and type)."""
    body = response.json()
    return (
        response.status_code == status
        and set(body) >= {"detail", "status_code", "error_type"}
        and body["status_code"] == status
        and (error_type is None or body["error_type"] == error_type)
    )
