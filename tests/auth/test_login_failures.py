"""Failed logins say nothing about which part was wrong, and cost the same either way."""

import bcrypt
import sqlalchemy as sa

from boxoffice.auth.models import User
from tests.auth.helpers import auth_db, is_error, login, register


async def test_wrong_password_and_unknown_user_get_the_same_401(api):
    user = await register(api)
    wrong_password = await login(api, user["email"], "not-the-password")
    unknown_user = await login(api, "nobody@example.com", "not-the-password")
    unknown_name = await login(api, "nobody", user["password"])
    for response in (wrong_password, unknown_user, unknown_name):
        assert is_error(response, 401, "AuthenticationError")
        assert response.json() == wrong_password.json()


async def test_an_unknown_user_still_costs_one_bcrypt_check(api, monkeypatch):
    checks = []
    real_checkpw = bcrypt.checkpw

    def counting_checkpw(password, hashed):
        checks.append(hashed[:7])
        return real_checkpw(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", counting_checkpw)
    assert (await login(api, "ghost@example.com", "whatever1")).status_code == 401
    assert (await login(api, "ghost", "whatever1")).status_code == 401
    # The dummy hash has the configured cost, like a real one.
    assert checks == [b"$2b$04$", b"$2b$04$"]


async def test_an_over_long_password_at_login_is_a_plain_401(api):
    user = await register(api)
    response = await login(api, user["email"], "x" * 500)
    assert is_error(response, 401)


async def test_a_login_without_a_password_is_a_400(api):
    response = await api.post("/api/auth/token", data={"username": "someone"})
    assert is_error(response, 400, "ValidationError")


async def test_a_deactivated_account_cannot_log_in(api):
    user = await register(api)
    async with auth_db(api).sessionmaker() as session:
        await session.execute(
            sa.update(User).where(User.email == user["email"]).values(is_active=False)
        )
        await session.commit()
    response = await login(api, user["email"], user["password"])
    assert is_error(response, 403, "PermissionError")
    assert "disabled" in response.json()["detail"]


async def test_a_login_name_with_a_nul_character_is_a_plain_401(api):
    response = await login(api, "ann\x00@example.com", "whatever1")
    assert is_error(response, 401, "AuthenticationError")
