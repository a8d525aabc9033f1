"""Issue 11, finding 2: an embedded install must share no secret with any other.

It used to sign tokens with a key written in the source and seed the admin `admin123`, so
anyone could mint an admin token for anyone's system, or just log in; and its logouts lived in
memory, so a restart brought logged-out tokens back. Each install now makes its own key and
admin password at first start, and keeps its logouts in its data folder.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import sqlite3
import stat
import uuid
from pathlib import Path

import jwt
import pytest
import sqlalchemy as sa

from boxoffice.auth.bootstrap import GENERATED_ADMIN
from boxoffice.auth.models import User
from boxoffice.core.keys import KEY_FILE, SigningKeyError
from boxoffice.core.kv import FileRevocationStore
from boxoffice.settings import Settings
from tests.auth.helpers import auth_db, login, token_of
from tests.conftest import ADMIN_EMAIL, bearer, running_system
from tests.e2e.system import System, client

# What every embedded install signed its tokens with before the fix (it was in
# src/boxoffice/core/settings.py), and the admin password every one of them had.
OLD_SOURCE_KEY = "boxoffice-embedded-dev-secret-change-me-0123456789abcdef"
OLD_ADMIN_PASSWORD = "admin123"
SRC = Path(__file__).resolve().parents[2] / "src" / "boxoffice"


def embedded(make_settings, **overrides) -> Settings:
    """An embedded install with nothing secret configured: no SECRET_KEY, no admin password."""
    values = {"secret_key": None, "BOXOFFICE_ADMIN_PASSWORD": None, **overrides}
    return make_settings("sqlite", **values)


def fresh(data_dir: Path, **overrides: object) -> Settings:
    """An embedded install's settings in `data_dir`, whatever this process's environment says."""
    values = {"BOXOFFICE_MODE": "embedded", "BOXOFFICE_DATA_DIR": data_dir, "secret_key": None}
    return Settings(_env_file=None, **{**values, **overrides})  # type: ignore[arg-type]


def forged_admin_token(key: str) -> str:
    now = dt.datetime.now(dt.UTC)
    claims = {
        "sub": "mallory@example.com",
        "user_id": str(uuid.uuid4()),  # made up: no such account
        "role": "admin",
        "iat": int(now.timestamp()),
        "exp": int((now + dt.timedelta(minutes=30)).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, key, algorithm="HS256")


# The signing key


async def test_an_admin_token_forged_with_the_old_source_key_is_refused_by_every_service(
    make_settings,
):
    forged = bearer(forged_admin_token(OLD_SOURCE_KEY))
    async with running_system(embedded(make_settings)) as api:
        calls = [
            api.get("/api/auth/users", headers=forged),
            api.post("/api/movies/movies", json={"title": "Forged"}, headers=forged),
            api.get("/api/bookings/bookings", headers=forged),
            api.get("/api/payments/payments", headers=forged),
            api.get("/api/notifications/notifications", headers=forged),
        ]
        for call in calls:
            response = await call
            assert response.status_code == 401, (response.request.url, response.text)
            assert response.json()["detail"] == "Invalid token"


def test_two_fresh_data_folders_get_different_keys(tmp_path):
    one = fresh(tmp_path / "one")
    two = fresh(tmp_path / "two")
    assert one.signing_key != two.signing_key
    assert OLD_SOURCE_KEY not in (one.signing_key, two.signing_key)
    assert len(one.signing_key) >= 43  # 256 bits, URL-safe base64


def test_the_key_file_is_owner_only_and_reused_on_later_starts(tmp_path):
    data = tmp_path / "data"
    first = fresh(data).signing_key
    path = data / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == first
    assert fresh(data).signing_key == first
    assert [p.name for p in data.iterdir()] == [KEY_FILE]  # no draft left behind


def test_a_key_file_made_readable_to_others_is_tightened_and_still_used(tmp_path):
    data = tmp_path / "data"
    key = fresh(data).signing_key
    os.chmod(data / KEY_FILE, 0o644)
    assert fresh(data).signing_key == key
    assert stat.S_IMODE((data / KEY_FILE).stat().st_mode) == 0o600


def test_an_emptied_key_file_stops_the_start_instead_of_signing_with_nothing(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / KEY_FILE).write_text("")
    with pytest.raises(SigningKeyError, match="shorter than"):
        fresh(data).signing_key  # noqa: B018


def test_an_explicit_secret_key_wins_and_distributed_mode_requires_one(tmp_path):
    chosen = "k" * 48
    settings = fresh(tmp_path, secret_key=chosen)
    assert settings.signing_key == chosen
    assert not (tmp_path / KEY_FILE).exists()
    distributed = Settings(
        _env_file=None, BOXOFFICE_MODE="distributed", BOXOFFICE_DATA_DIR=tmp_path, secret_key=None
    )
    with pytest.raises(RuntimeError, match="SECRET_KEY must be set"):
        distributed.signing_key  # noqa: B018
    assert not (tmp_path / KEY_FILE).exists()


def test_no_signing_key_or_admin_password_is_written_in_the_source():
    for path in SRC.rglob("*.py"):
        text = path.read_text()
        assert OLD_SOURCE_KEY not in text, path
        assert OLD_ADMIN_PASSWORD not in text, path


# The admin password


async def test_the_first_start_makes_a_random_admin_password_that_works_and_is_hashed(
    make_settings,
):
    settings = embedded(make_settings)
    async with running_system(settings, services=("auth",)) as api:
        email, password = api.runtime.extras[GENERATED_ADMIN]
        assert email == ADMIN_EMAIL
        assert password != OLD_ADMIN_PASSWORD and len(password) >= 16
        assert (await login(api, ADMIN_EMAIL, OLD_ADMIN_PASSWORD)).status_code == 401
        response = await login(api, ADMIN_EMAIL, password)
        assert response.status_code == 200, response.text
        assert response.json()["user"]["role"] == "admin"
        async with auth_db(api).sessionmaker() as session:
            stored = await session.scalar(sa.select(User.password_hash))
        assert stored.startswith("$2") and password not in stored


async def test_each_install_gets_its_own_admin_password(make_settings, tmp_path):
    passwords = []
    for name in ("one", "two"):
        settings = embedded(make_settings, BOXOFFICE_DATA_DIR=tmp_path / name)
        async with running_system(settings, services=("auth",)) as api:
            passwords.append(api.runtime.extras[GENERATED_ADMIN][1])
    assert passwords[0] != passwords[1]


async def test_a_later_start_keeps_the_admin_password_and_makes_no_new_one(make_settings):
    settings = embedded(make_settings)
    async with running_system(settings, services=("auth",)) as api:
        _, password = api.runtime.extras[GENERATED_ADMIN]
    async with running_system(settings, services=("auth",)) as api:
        assert GENERATED_ADMIN not in api.runtime.extras
        assert (await login(api, ADMIN_EMAIL, password)).status_code == 200


async def test_a_configured_admin_password_is_used_and_nothing_is_generated(make_settings):
    settings = embedded(make_settings, BOXOFFICE_ADMIN_PASSWORD="chosen-by-the-operator")
    async with running_system(settings, services=("auth",)) as api:
        assert GENERATED_ADMIN not in api.runtime.extras
        assert (await login(api, ADMIN_EMAIL, "chosen-by-the-operator")).status_code == 200


# Logouts


async def test_a_logged_out_token_stays_refused_after_a_restart(make_settings):
    settings = embedded(make_settings, BOXOFFICE_ADMIN_PASSWORD="admin-secret-1")
    async with running_system(settings, services=("auth",)) as api:
        out = await token_of(api, ADMIN_EMAIL, "admin-secret-1")
        kept = await token_of(api, ADMIN_EMAIL, "admin-secret-1")
        assert (await api.post("/api/auth/logout", headers=bearer(out))).status_code == 200
        assert (await api.get("/api/auth/profile", headers=bearer(out))).status_code == 401
    async with running_system(settings, services=("auth",)) as api:
        response = await api.get("/api/auth/profile", headers=bearer(out))
        assert response.status_code == 401
        assert response.json()["detail"] == "Token has been revoked"
        # The same key signs and checks after the restart: the other token still works.
        assert (await api.get("/api/auth/profile", headers=bearer(kept))).status_code == 200


async def test_expired_revocations_are_dropped_from_the_file_at_load(tmp_path):
    path = tmp_path / "revocations.sqlite3"
    store = FileRevocationStore(path)
    await store.revoke("gone", 60)
    await store.revoke("kept", 60)
    with sqlite3.connect(path) as conn:  # "gone"'s token expired while the system was down
        conn.execute("UPDATE revoked_tokens SET expires_at = 0 WHERE jti = 'gone'")
    conn.close()
    later = FileRevocationStore(path)
    assert await later.is_revoked("kept") is True
    assert await later.is_revoked("gone") is False
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT jti FROM revoked_tokens").fetchall()
    conn.close()
    assert rows == [("kept",)]


# `boxoffice up`, as a newcomer runs it twice


def admin_password_printed(output: str) -> str | None:
    found = re.findall(r"admin password\s*[│|]\s*([A-Za-z0-9_-]{16,})", output)
    assert len(found) <= 1, found
    return found[0] if found else None


def test_up_prints_the_generated_password_once_and_a_restart_honours_logouts(tmp_path):
    system = System(tmp_path, distributed=False, env={"COLUMNS": "200"})
    del system.env["SECRET_KEY"]  # nothing secret configured: what a newcomer has
    try:
        system.start()
        first_output = system.output()
        password = admin_password_printed(first_output)
        assert password is not None, first_output
        assert first_output.count(password) == 1  # in the table, never in a log line
        key_file = system.data_dir / KEY_FILE
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        key = key_file.read_text()
        with client(system.base_url) as http:
            assert (
                http.post(
                    "/api/auth/token",
                    data={"username": "admin@boxoffice.local", "password": "admin123"},
                ).status_code
                == 401
            )
            tokens = [
                http.post(
                    "/api/auth/token",
                    data={"username": "admin@boxoffice.local", "password": password},
                ).json()["access_token"]
                for _ in range(2)
            ]
            out, kept = tokens
            assert http.post("/api/auth/logout", headers=bearer(out)).status_code == 200
        assert system.terminate() == 0

        system.start()
        second_output = system.output()
        assert password not in second_output
        assert admin_password_printed(second_output) is None
        assert "printed at first start" in second_output
        assert key_file.read_text() == key
        with client(system.base_url) as http:
            assert http.get("/api/auth/profile", headers=bearer(out)).status_code == 401
            assert http.get("/api/auth/profile", headers=bearer(kept)).status_code == 200
            assert (
                http.post(
                    "/api/auth/token",
                    data={"username": "admin@boxoffice.local", "password": password},
                ).status_code
                == 200
            )
    finally:
        system.cleanup()
