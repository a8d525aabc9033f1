"""`boxoffice users`: an operator manages accounts from the shell, in either mode, beside the
running system; a deactivation or role change there ends the user's tokens within a second."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import time

import pytest

from boxoffice.settings import Settings
from tests.auth.helpers import is_error, login, token_of
from tests.conftest import ADMIN_EMAIL, bearer, running_system

# `python -m boxoffice users` runs in a process of its own and finds the system's databases by
# their prefix: the system must run on databases named so, not on the test pool's.
pytestmark = pytest.mark.own_databases

STALE = "Token was issued before the account changed; log in again"


async def boxoffice_users(settings: Settings, *args: str) -> tuple[int, str]:
    """Run `python -m boxoffice users ...` as its own process on `settings`' system."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOXOFFICE_")}
    env.update(
        BOXOFFICE_MODE=settings.mode,
        BOXOFFICE_DATA_DIR=str(settings.data_dir),
        BOXOFFICE_DB_PREFIX=settings.db_prefix,
        SECRET_KEY=settings.secret_key or "",
        POSTGRES_URL=settings.postgres_url,
        REDIS_URL=settings.redis_url,
        BCRYPT_ROUNDS="4",
        COLUMNS="200",
        PYTHONPATH=os.pathsep.join(sys.path),
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "boxoffice",
        "users",
        *args,
        env=env,
        cwd=settings.data_dir.parent,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode()


@pytest.fixture
def settings(backend, make_settings) -> Settings:
    return make_settings(backend)


async def refused_within_a_second(api, token: str) -> float:
    started = time.monotonic()
    while True:
        response = await api.get("/api/bookings/bookings", headers=bearer(token))
        if response.status_code == 401:
            assert response.json()["detail"] == STALE
            return time.monotonic() - started
        assert response.status_code == 200, response.text
        assert time.monotonic() - started < 1.0, "the old token still works after a second"
        await asyncio.sleep(0.05)


async def test_an_operator_makes_disables_and_restores_a_staff_account(settings):
    async with running_system(settings, services=("auth", "booking")) as api:
        code, out = await boxoffice_users(
            settings, "create", "usher@cinema.test", "--password", "usher-pass-1"
        )
        assert code == 0, out
        assert re.search(r"usher@cinema\.test.*staff.*yes", out)
        token = await token_of(api, "usher@cinema.test", "usher-pass-1")
        assert (await api.get("/api/bookings/bookings", headers=bearer(token))).status_code == 200

        code, out = await boxoffice_users(settings, "deactivate", "usher@cinema.test")
        assert code == 0, out
        await refused_within_a_second(api, token)
        assert is_error(await login(api, "usher@cinema.test", "usher-pass-1"), 403)

        code, out = await boxoffice_users(settings, "list", "--inactive")
        assert code == 0 and "usher@cinema.test" in out and ADMIN_EMAIL not in out

        code, out = await boxoffice_users(settings, "reactivate", "usher@cinema.test")
        assert code == 0, out
        token = await token_of(api, "usher@cinema.test", "usher-pass-1")

        code, out = await boxoffice_users(settings, "set-role", "usher@cinema.test", "customer")
        assert code == 0 and re.search(r"usher@cinema\.test.*customer", out), out
        await refused_within_a_second(api, token)
        response = await login(api, "usher@cinema.test", "usher-pass-1")
        assert response.json()["user"]["role"] == "customer"


async def test_the_cli_refuses_to_leave_no_admin_and_says_why(settings):
    async with running_system(settings, services=("auth",)):
        code, out = await boxoffice_users(settings, "set-role", ADMIN_EMAIL, "staff")
        assert code == 1
        assert "no active admin" in out
        code, out = await boxoffice_users(settings, "deactivate", "nobody@cinema.test")
        assert code == 1 and "no user 'nobody@cinema.test'" in out
        code, out = await boxoffice_users(settings, "set-role", ADMIN_EMAIL, "owner")
        assert code == 1 and "unknown role 'owner'" in out


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_created_account_without_a_password_gets_one_printed_once(settings):
    async with running_system(settings, services=("auth",)) as api:
        code, out = await boxoffice_users(settings, "create", "cashier@cinema.test")
        assert code == 0, out
        password = re.search(r"password: (\S+)", out)
        assert password is not None
        response = await login(api, "cashier@cinema.test", password.group(1))
        assert response.json()["user"]["role"] == "staff"
