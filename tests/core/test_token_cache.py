"""`decode_token` remembers the tokens it verified; what a fresh verification refuses, a
remembered token must be refused too."""

from __future__ import annotations

import datetime as dt
import time
import uuid

import pytest

from boxoffice.core.auth import decode_token, issue_token
from boxoffice.core.errors import NotAuthenticated
from boxoffice.core.settings import CoreSettings


def _settings(tmp_path, secret: str) -> CoreSettings:
    values = {"BOXOFFICE_MODE": "embedded", "BOXOFFICE_DATA_DIR": tmp_path, "secret_key": secret}
    return CoreSettings(_env_file=None, **values)  # type: ignore[call-arg]


def test_a_remembered_token_is_refused_once_it_expires(tmp_path) -> None:
    settings = _settings(tmp_path, "k" * 40)
    token, expires = issue_token(
        settings,
        user_id=uuid.uuid4(),
        email="a@example.com",
        role="customer",
        expires_in=dt.timedelta(seconds=2),
    )
    assert decode_token(settings, token).email == "a@example.com"
    assert decode_token(settings, token).email == "a@example.com"  # now from memory
    time.sleep(max(0.0, expires.timestamp() - time.time()) + 1.1)
    with pytest.raises(NotAuthenticated, match="expired"):
        decode_token(settings, token)


def test_a_token_remembered_under_one_key_is_not_valid_under_another(tmp_path) -> None:
    signer = _settings(tmp_path, "a" * 40)
    other = _settings(tmp_path, "b" * 40)
    token, _ = issue_token(signer, user_id=uuid.uuid4(), email="a@example.com", role="admin")
    assert decode_token(signer, token).role == "admin"
    with pytest.raises(NotAuthenticated, match="Invalid token"):
        decode_token(other, token)
