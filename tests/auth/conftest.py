"""The auth tests need only the auth service: start just it (on both backends), which keeps
the folder fast; cross-service token checks live in tests/core/test_auth_matrix.py."""

from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from boxoffice.settings import Settings
from tests.conftest import running_system


@pytest.fixture
async def api(
    backend: str, make_settings: Callable[..., Settings]
) -> AsyncIterator[httpx.AsyncClient]:
    """The auth service alone, in-process, on the test's backend."""
    async with running_system(make_settings(backend), services=("auth",)) as client:
        yield client
