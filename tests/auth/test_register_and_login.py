"""A customer signs up and logs in; duplicates and bad input are refused cleanly."""

import asyncio

from tests.auth.helpers import is_error, login, new_user, register, users_with_email


async def test_a_new_customer_can_register_and_sees_no_password_in_the_answer(api):
    body = new_user(email="Ann.Lee@Example.COM", full_name="Ann Lee")
    response = await api.post("/api/auth/register", json=body)
    assert response.status_code == 201
    user = response.json()
    assert user["email"] == "ann.lee@example.com"
    assert user["username"] == body["username"]
    assert user["full_name"] == "Ann Lee"
    assert user["phone_number"] == body["phone_number"]
    assert user["role"] == "customer"
    assert user["is_active"] is True
    assert not [key for key in user if "password" in key]


async def test_the_password_is_stored_only_as_a_bcrypt_hash(api):
    user = await register(api)
    [row] = await users_with_email(api, user["email"])
    assert row.password_hash.startswith("$2b$")
    assert user["password"] not in row.password_hash


async def test_registering_cannot_choose_a_role(api):
    response = await api.post("/api/auth/register", json=new_user(role="admin"))
    assert response.status_code == 201
    assert response.json()["role"] == "customer"


async def test_a_customer_logs_in_with_their_email_in_any_case(api):
    user = await register(api)
    response = await login(api, user["email"].upper(), user["password"])
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["access_token"].count(".") == 2
    assert 0 < body["expires_in"] <= 30 * 60
    assert body["user"] == {
        "id": user["id"],
        "email": user["email"],
        "username": user["username"],
        "full_name": user["full_name"],
        "role": "customer",
        "is_active": True,
    }


async def test_a_customer_logs_in_with_their_username(api):
    user = await register(api, username="NightOwl")
    for name in ("NightOwl", "nightowl"):
        response = await login(api, name, user["password"])
        assert response.status_code == 200
        assert response.json()["user"]["id"] == user["id"]


async def test_an_email_already_registered_is_a_409_whatever_its_case(api):
    first = await register(api)
    response = await api.post("/api/auth/register", json=new_user(email=first["email"].upper()))
    assert is_error(response, 409, "ConflictError")
    assert "email" in response.json()["detail"]
    assert len(await users_with_email(api, first["email"])) == 1


async def test_a_username_already_taken_is_a_409_whatever_its_case(api):
    await register(api, username="popcornlover")
    again = new_user(username="PopcornLover")
    response = await api.post("/api/auth/register", json=again)
    assert is_error(response, 409, "ConflictError")
    assert "username" in response.json()["detail"]
    assert await users_with_email(api, again["email"]) == []


async def test_twenty_simultaneous_signups_with_one_email_make_one_account(api):
    email = new_user()["email"]
    responses = await asyncio.gather(
        *(
            api.post("/api/auth/register", json=new_user(email=email, username=f"racer{i}"))
            for i in range(20)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 19
    assert all(is_error(r, 409) for r in responses if r.status_code == 409)
    assert len(await users_with_email(api, email)) == 1


async def test_invalid_registration_is_a_400_validation_error_and_creates_nothing(api):
    response = await api.post(
        "/api/auth/register", json={"email": "bad", "username": "", "password": "1"}
    )
    assert is_error(response, 400, "ValidationError")
    detail = response.json()["detail"]
    assert "email" in detail and "username" in detail and "password" in detail


async def test_passwords_shorter_than_six_characters_are_refused(api):
    body = new_user(password="12345")
    response = await api.post("/api/auth/register", json=body)
    assert is_error(response, 400, "ValidationError")
    assert await users_with_email(api, body["email"]) == []


async def test_passwords_longer_than_72_bytes_are_refused_not_truncated(api):
    # 37 two-byte characters: under 72 characters but 74 bytes.
    body = new_user(password="é" * 37)
    response = await api.post("/api/auth/register", json=body)
    assert is_error(response, 400, "ValidationError")
    assert "72 bytes" in response.json()["detail"]


async def test_text_a_database_cannot_store_is_a_400_not_a_crash(api):
    response = await api.post("/api/auth/register", json=new_user(full_name="Ann\u0000Lee"))
    assert is_error(response, 400, "ValidationError")


async def test_a_username_may_not_be_someone_elses_email(api):
    victim = await register(api)
    response = await api.post("/api/auth/register", json=new_user(username=victim["email"]))
    assert is_error(response, 400, "ValidationError")


async def test_a_username_may_be_ones_own_email_as_in_the_design_example(api):
    body = new_user()
    body["username"] = body["email"]
    response = await api.post("/api/auth/register", json=body)
    assert response.status_code == 201
    assert (await login(api, body["email"], body["password"])).status_code == 200
