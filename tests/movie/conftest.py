"""Fixtures of the movie service tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from boxoffice.core.app import ServiceContext
from boxoffice.settings import Settings
from tests.conftest import (
    bearer,
    eventually,  # noqa: F401 (used by this folder's tests)
    running_system,
)

# Movie asks booking for seat states; the other services play no part in these tests, and
# leaving them out spares three databases per test (dropping PostgreSQL ones is slow).
SERVICES = ("movie", "booking")


@pytest.fixture
async def api(
    backend: str, make_settings: Callable[..., Settings]
) -> AsyncIterator[httpx.AsyncClient]:
    """The movie and booking services, in-process, on the test's backend (as tests/conftest)."""
    async with running_system(make_settings(backend), services=SERVICES) as client:
        yield client


def movie_context(api: httpx.AsyncClient) -> ServiceContext:
    """The running movie service's context (its database, runtime, settings)."""
    return api.app.state.service_apps["movie"].state.ctx  # type: ignore[attr-defined,no-any-return]


@pytest.fixture
def admin(token_for: Callable[..., str]) -> dict[str, str]:
    """Authorization headers of an admin."""
    return bearer(token_for("admin"))


@pytest.fixture
def customer(token_for: Callable[..., str]) -> dict[str, str]:
    """Authorization headers of a customer."""
    return bearer(token_for("customer"))
