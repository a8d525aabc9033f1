"""A customer reads and edits their profile and changes their password."""

from tests.auth.helpers import is_error, login, signed_up
from tests.conftest import bearer


async def test_a_customer_reads_their_own_profile(api):
    user, token = await signed_up(api, full_name="Minh Tran")
    response = await api.get("/api/auth/profile", headers=bearer(token))
    assert response.status_code == 200
    profile = response.json()
    assert profile["id"] == user["id"]
    assert profile["full_name"] == "Minh Tran"
    assert profile["phone_number"] == user["phone_number"]
    assert not [key for key in profile if "password" in key]


async def test_a_customer_updates_name_and_phone_and_sees_the_change(api):
    _, token = await signed_up(api)
    response = await api.put(
        "/api/auth/profile",
        headers=bearer(token),
        json={"full_name": "Minh T. Tran", "phone_number": "0912 000 111"},
    )
    assert response.status_code == 200
    assert response.json()["full_name"] == "Minh T. Tran"
    assert response.json()["updated_at"] is not None
    profile = (await api.get("/api/auth/profile", headers=bearer(token))).json()
    assert (profile["full_name"], profile["phone_number"]) == ("Minh T. Tran", "0912 000 111")


async def test_a_profile_update_leaves_fields_not_sent_alone(api):
    user, token = await signed_up(api, full_name="Lan Pham")
    await api.put("/api/auth/profile", headers=bearer(token), json={"phone_number": "+1 555 0100"})
    profile = (await api.get("/api/auth/profile", headers=bearer(token))).json()
    assert profile["full_name"] == "Lan Pham"
    assert profile["phone_number"] == "+1 555 0100"
    assert profile["email"] == user["email"]


async def test_a_profile_update_cannot_change_role_or_email(api):
    user, token = await signed_up(api)
    response = await api.put(
        "/api/auth/profile",
        headers=bearer(token),
        json={"role": "admin", "email": "someone@else.com", "full_name": "Sneaky"},
    )
    assert response.status_code == 200
    assert (response.json()["role"], response.json()["email"]) == ("customer", user["email"])


async def test_an_invalid_phone_number_is_a_400_and_changes_nothing(api):
    user, token = await signed_up(api)
    response = await api.put(
        "/api/auth/profile", headers=bearer(token), json={"phone_number": "call me maybe"}
    )
    assert is_error(response, 400, "ValidationError")
    profile = (await api.get("/api/auth/profile", headers=bearer(token))).json()
    assert profile["phone_number"] == user["phone_number"]


async def test_after_a_password_change_only_the_new_password_works(api):
    user, token = await signed_up(api)
    response = await api.post(
        "/api/auth/change-password",
        headers=bearer(token),
        json={"current_password": user["password"], "new_password": "butterpopcorn9"},
    )
    assert response.status_code == 200
    assert is_error(await login(api, user["email"], user["password"]), 401)
    assert (await login(api, user["email"], "butterpopcorn9")).status_code == 200


async def test_a_wrong_current_password_is_a_400_and_keeps_the_old_one(api):
    user, token = await signed_up(api)
    response = await api.post(
        "/api/auth/change-password",
        headers=bearer(token),
        json={"current_password": "not-my-password", "new_password": "butterpopcorn9"},
    )
    assert is_error(response, 400, "ValidationError")
    assert (await login(api, user["email"], user["password"])).status_code == 200
    assert is_error(await login(api, user["email"], "butterpopcorn9"), 401)


async def test_a_too_short_new_password_is_a_400(api):
    user, token = await signed_up(api)
    response = await api.post(
        "/api/auth/change-password",
        headers=bearer(token),
        json={"current_password": user["password"], "new_password": "abc"},
    )
    assert is_error(response, 400, "ValidationError")
    assert (await login(api, user["email"], user["password"])).status_code == 200


async def test_changing_a_password_needs_a_token(api):
    response = await api.post(
        "/api/auth/change-password",
        json={"current_password": "whatever1", "new_password": "whatever2"},
    )
    assert is_error(response, 401)
