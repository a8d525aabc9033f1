"""Tokens carry the design's claims; logout revokes exactly the token it was sent with."""

import jwt

from tests.auth.helpers import is_error, login, signed_up, token_of
from tests.conftest import TEST_SECRET, bearer


async def test_a_token_carries_the_design_claims_and_a_unique_id(api):
    user, token = await signed_up(api)
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, TEST_SECRET, algorithms=["HS256"])
    assert header["alg"] == "HS256"
    assert claims["sub"] == user["email"]
    assert claims["user_id"] == user["id"]
    assert claims["role"] == "customer"
    assert claims["exp"] - claims["iat"] == 30 * 60
    second = await token_of(api, user["email"], user["password"])
    assert jwt.decode(second, TEST_SECRET, algorithms=["HS256"])["jti"] != claims["jti"]


async def test_verify_returns_the_tokens_user_and_claims(api):
    user, token = await signed_up(api)
    response = await api.get("/api/auth/verify", headers=bearer(token))
    assert response.status_code == 200
    body = response.json()
    assert body["valid"] is True
    assert body["user"]["id"] == user["id"]
    assert body["user"]["username"] == user["username"]
    assert body["claims"] == jwt.decode(token, TEST_SECRET, algorithms=["HS256"])


async def test_verify_also_puts_the_users_fields_at_the_top_level(api):
    user, token = await signed_up(api)
    body = (await api.get("/api/auth/verify", headers=bearer(token))).json()
    # Clients written to the design read `username` (and the rest) beside `valid`.
    assert body["username"] == user["username"]
    assert body["id"] == user["id"]
    assert body["email"] == user["email"]
    assert body["role"] == "customer"
    for field, value in body["user"].items():
        assert body[field] == value, field


async def test_verify_without_a_token_is_a_401(api):
    response = await api.get("/api/auth/verify")
    assert is_error(response, 401, "AuthenticationError")
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_a_token_whose_account_does_not_exist_is_refused(api, token_for):
    response = await api.get("/api/auth/profile", headers=bearer(token_for("customer")))
    assert is_error(response, 401)


async def test_after_logout_the_token_is_refused_and_a_new_login_works(api):
    user, token = await signed_up(api)
    other_session = await token_of(api, user["username"], user["password"])

    response = await api.post("/api/auth/logout", headers=bearer(token))
    assert response.status_code == 200

    for path in ("/api/auth/verify", "/api/auth/profile"):
        refused = await api.get(path, headers=bearer(token))
        assert is_error(refused, 401, "AuthenticationError")
        assert "revoked" in refused.json()["detail"]
    assert is_error(await api.post("/api/auth/logout", headers=bearer(token)), 401)

    # Only that token was revoked: the user's other session and a fresh login both work.
    assert (await api.get("/api/auth/verify", headers=bearer(other_session))).status_code == 200
    fresh = await login(api, user["email"], user["password"])
    assert fresh.status_code == 200
    new_token = fresh.json()["access_token"]
    assert (await api.get("/api/auth/verify", headers=bearer(new_token))).status_code == 200


async def test_logout_revokes_the_token_id_in_the_shared_revocation_list(api):
    _, token = await signed_up(api)
    jti = jwt.decode(token, TEST_SECRET, algorithms=["HS256"])["jti"]
    assert not await api.runtime.revocations.is_revoked(jti)
    await api.post("/api/auth/logout", headers=bearer(token))
    assert await api.runtime.revocations.is_revoked(jti)
