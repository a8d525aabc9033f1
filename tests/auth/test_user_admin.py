"""Admins manage accounts (issue 11, finding 3): make staff accounts, disable and re-enable
accounts, find them by status; nobody else may, and the cinema always keeps an active admin."""

import uuid

from tests.auth.helpers import is_error, login, register, signed_up, token_of, users_with_email
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, bearer


async def admin_token(api):
    return await token_of(api, ADMIN_EMAIL, ADMIN_PASSWORD)


def staff_body(**overrides):
    tag = uuid.uuid4().hex[:8]
    return {"email": f"usher-{tag}@cinema.test", "password": "usher-pass-1", "role": "staff"} | (
        overrides
    )


async def test_an_admin_makes_a_staff_account_that_can_log_in_as_staff(api):
    body = staff_body(full_name="Ushering Usha")
    made = await api.post("/api/auth/users", headers=bearer(await admin_token(api)), json=body)
    assert made.status_code == 201, made.text
    assert made.json()["role"] == "staff"
    assert made.json()["username"] == body["email"]
    assert not [k for k in made.json() if "password" in k]
    response = await login(api, body["email"], body["password"])
    assert response.json()["user"]["role"] == "staff"


async def test_a_staff_account_is_refused_like_a_sign_up_for_a_taken_email_or_weak_password(api):
    token = await admin_token(api)
    customer = await register(api)
    taken = await api.post(
        "/api/auth/users", headers=bearer(token), json=staff_body(email=customer["email"])
    )
    assert is_error(taken, 409, "ConflictError")
    weak = await api.post(
        "/api/auth/users", headers=bearer(token), json=staff_body(password="123456")
    )
    assert is_error(weak, 400, "ValidationError")
    no_role = await api.post("/api/auth/users", headers=bearer(token), json=staff_body(role="boss"))
    assert is_error(no_role, 400, "ValidationError")


async def test_an_admin_lists_only_the_disabled_accounts(api):
    token = await admin_token(api)
    kept, gone = await register(api), await register(api)
    await api.post(f"/api/auth/users/{gone['id']}/deactivate", headers=bearer(token))
    disabled = await api.get("/api/auth/users?active=false", headers=bearer(token))
    assert [u["id"] for u in disabled.json()] == [gone["id"]]
    enabled = await api.get("/api/auth/users?active=true&role=customer", headers=bearer(token))
    assert [u["id"] for u in enabled.json()] == [kept["id"]]


async def test_deactivating_an_unknown_user_is_a_404(api):
    token = await admin_token(api)
    for action in ("deactivate", "reactivate"):
        response = await api.post(f"/api/auth/users/{uuid.uuid4()}/{action}", headers=bearer(token))
        assert is_error(response, 404, "NotFoundError")


async def test_an_unknown_user_id_tells_a_non_admin_nothing(api):
    """UserById checks the caller first: no one but an admin learns which ids exist."""
    _, customer_token = await signed_up(api)
    unknown = uuid.uuid4()
    for action in ("deactivate", "reactivate"):
        response = await api.post(
            f"/api/auth/users/{unknown}/{action}", headers=bearer(customer_token)
        )
        assert is_error(response, 403, "PermissionError")
        assert (await api.post(f"/api/auth/users/{unknown}/{action}")).status_code == 401


async def test_a_role_change_checks_its_body_before_the_user_id(api):
    token = await admin_token(api)
    response = await api.put(
        f"/api/auth/users/{uuid.uuid4()}/role", headers=bearer(token), json={"role": "owner"}
    )
    assert is_error(response, 400, "ValidationError")
    unknown = await api.put(
        f"/api/auth/users/{uuid.uuid4()}/role", headers=bearer(token), json={"role": "staff"}
    )
    assert is_error(unknown, 404, "NotFoundError")


async def test_the_last_active_admin_cannot_deactivate_themselves(api):
    token = await admin_token(api)
    me = (await api.get("/api/auth/profile", headers=bearer(token))).json()
    response = await api.post(f"/api/auth/users/{me['id']}/deactivate", headers=bearer(token))
    assert is_error(response, 409, "ConflictError")
    assert (await api.get("/api/auth/profile", headers=bearer(token))).status_code == 200


async def test_with_a_second_admin_an_admin_may_step_down(api):
    token = await admin_token(api)
    second = await register(api)
    await api.put(
        f"/api/auth/users/{second['id']}/role", headers=bearer(token), json={"role": "admin"}
    )
    me = (await api.get("/api/auth/profile", headers=bearer(token))).json()
    stepped = await api.put(
        f"/api/auth/users/{me['id']}/role", headers=bearer(token), json={"role": "staff"}
    )
    assert stepped.status_code == 200 and stepped.json()["role"] == "staff"
    # Now the second admin is the last one: they cannot leave, not even by deactivation.
    theirs = await token_of(api, second["email"], second["password"])
    refused = await api.post(f"/api/auth/users/{second['id']}/deactivate", headers=bearer(theirs))
    assert is_error(refused, 409, "ConflictError")


async def test_customers_and_staff_get_403_on_account_management_and_change_nothing(api):
    admin = await admin_token(api)
    victim = await register(api)
    customer, customer_token = await signed_up(api)
    body = staff_body()
    await api.post("/api/auth/users", headers=bearer(admin), json=body)
    staff_token = await token_of(api, body["email"], body["password"])

    for token in (customer_token, staff_token):
        made = await api.post(
            "/api/auth/users", headers=bearer(token), json=staff_body(role="admin")
        )
        assert is_error(made, 403, "PermissionError")
        for action in ("deactivate", "reactivate"):
            response = await api.post(
                f"/api/auth/users/{victim['id']}/{action}", headers=bearer(token)
            )
            assert is_error(response, 403, "PermissionError")
    for anonymous in (
        await api.post("/api/auth/users", json=staff_body()),
        await api.post(f"/api/auth/users/{victim['id']}/deactivate"),
    ):
        assert is_error(anonymous, 401, "AuthenticationError")
    [row] = await users_with_email(api, victim["email"])
    assert row.is_active is True
    listing = await api.get("/api/auth/users?role=admin", headers=bearer(admin))
    assert [u["email"] for u in listing.json()] == [ADMIN_EMAIL]
    assert customer["email"] not in [u["email"] for u in listing.json()]
