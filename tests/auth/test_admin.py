"""The cinema's admin: seeded at start, kept in sync on restart, and the only one who manages
users and roles."""

import asyncio
import contextlib
import uuid

import httpx
import sqlalchemy as sa

from boxoffice.auth.bootstrap import prepare_passwords, seed_admin
from boxoffice.auth.models import User
from boxoffice.core.app import ServiceContext
from boxoffice.core.db import Database
from boxoffice.core.migrations import migrate
from boxoffice.embedded import create_embedded_app
from tests.auth.helpers import is_error, login, register, signed_up, token_of, users_with_email
from tests.conftest import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    bearer,
    delete_redis_prefix,
    drop_databases_with_prefix,
    make_runtime,
)


async def admin_token(api):
    return await token_of(api, ADMIN_EMAIL, ADMIN_PASSWORD)


@contextlib.asynccontextmanager
async def auth_started(settings):
    """The auth service started on `settings`, without dropping its data when it stops."""
    app = create_embedded_app(settings, make_runtime(settings), services=("auth",))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            client.app = app
            yield client


@contextlib.asynccontextmanager
async def cleaned_up(settings):
    try:
        yield
    finally:
        if settings.distributed:
            await drop_databases_with_prefix(settings.db_prefix)
            await delete_redis_prefix(f"{settings.db_prefix}bo:")


async def test_the_configured_admin_exists_at_start_and_can_log_in(api):
    response = await login(api, ADMIN_EMAIL, ADMIN_PASSWORD)
    assert response.status_code == 200
    assert response.json()["user"]["role"] == "admin"
    assert len(await users_with_email(api, ADMIN_EMAIL)) == 1


async def test_a_restart_with_a_new_admin_password_updates_the_admin(backend, make_settings):
    first = make_settings(backend)
    async with cleaned_up(first):
        async with auth_started(first) as api:
            assert (await login(api, ADMIN_EMAIL, ADMIN_PASSWORD)).status_code == 200
            # Someone demoted and disabled the admin while the system ran.
            async with api.app.state.service_apps["auth"].state.ctx.db.sessionmaker() as s:
                await s.execute(
                    sa.update(User)
                    .where(User.email == ADMIN_EMAIL)
                    .values(role="customer", is_active=False)
                )
                await s.commit()

        async with auth_started(
            make_settings(backend, BOXOFFICE_ADMIN_PASSWORD="rotated-pw-2")
        ) as api:
            assert is_error(await login(api, ADMIN_EMAIL, ADMIN_PASSWORD), 401)
            response = await login(api, ADMIN_EMAIL, "rotated-pw-2")
            assert response.status_code == 200
            assert response.json()["user"]["role"] == "admin"
            assert response.json()["user"]["is_active"] is True
            assert len(await users_with_email(api, ADMIN_EMAIL)) == 1


async def test_several_processes_seeding_the_admin_at_once_make_one_admin(backend, make_settings):
    settings = make_settings(backend)
    url = settings.database_url_for("auth")
    async with cleaned_up(settings):
        await migrate("boxoffice.auth", url)
        runtime = make_runtime(settings)
        # Each "process" has its own engine, as separate service replicas would.
        contexts = [
            ServiceContext(name="auth", runtime=runtime, db=Database(url)) for _ in range(5)
        ]

        async def start(ctx):
            await prepare_passwords(ctx)
            await seed_admin(ctx)

        try:
            await asyncio.gather(*(start(ctx) for ctx in contexts))
            async with contexts[0].db.sessionmaker() as session:
                admins = (await session.scalars(sa.select(User))).all()
            assert [(a.email, a.role, a.is_active) for a in admins] == [
                (ADMIN_EMAIL, "admin", True)
            ]
        finally:
            for ctx in contexts:
                await ctx.db.dispose()
            await runtime.aclose()


async def test_an_admin_lists_users_page_by_page_and_by_role(api):
    token = await admin_token(api)
    customers = [await register(api, full_name=f"Guest {i}") for i in range(3)]

    everyone = await api.get("/api/auth/users", headers=bearer(token))
    assert everyone.status_code == 200
    assert [u["email"] for u in everyone.json()] == [ADMIN_EMAIL] + [c["email"] for c in customers]
    assert not [k for u in everyone.json() for k in u if "password" in k]

    page = await api.get("/api/auth/users?limit=2&offset=1", headers=bearer(token))
    assert [u["id"] for u in page.json()] == [customers[0]["id"], customers[1]["id"]]

    admins = await api.get("/api/auth/users?role=admin", headers=bearer(token))
    assert [u["email"] for u in admins.json()] == [ADMIN_EMAIL]

    found = await api.get(
        f"/api/auth/users?q={customers[2]['username'].upper()}", headers=bearer(token)
    )
    assert [u["id"] for u in found.json()] == [customers[2]["id"]]

    too_many = await api.get("/api/auth/users?limit=201", headers=bearer(token))
    assert is_error(too_many, 400, "ValidationError")


async def test_a_search_for_a_percent_sign_matches_only_a_literal_percent_sign(api):
    token = await admin_token(api)
    await register(api, full_name="Ordinary Name")
    response = await api.get("/api/auth/users?q=%25", headers=bearer(token))
    assert response.status_code == 200
    assert response.json() == []


async def test_an_empty_search_lists_everyone(api):
    token = await admin_token(api)
    await register(api)
    response = await api.get("/api/auth/users?q=", headers=bearer(token))
    assert response.status_code == 200
    assert len(response.json()) == 2


async def test_a_search_holding_a_nul_character_is_a_400(api):
    token = await admin_token(api)
    response = await api.get("/api/auth/users?q=a%00b", headers=bearer(token))
    assert is_error(response, 400, "ValidationError")


async def test_an_admin_makes_a_customer_staff_and_their_next_login_says_so(api):
    token = await admin_token(api)
    user = await register(api)
    response = await api.put(
        f"/api/auth/users/{user['id']}/role", headers=bearer(token), json={"role": "staff"}
    )
    assert response.status_code == 200
    assert response.json()["role"] == "staff"
    relogin = await login(api, user["email"], user["password"])
    assert relogin.json()["user"]["role"] == "staff"


async def test_changing_the_role_of_an_unknown_user_is_a_404(api):
    token = await admin_token(api)
    response = await api.put(
        f"/api/auth/users/{uuid.uuid4()}/role", headers=bearer(token), json={"role": "staff"}
    )
    assert is_error(response, 404, "NotFoundError")


async def test_a_role_that_does_not_exist_is_a_400(api):
    token = await admin_token(api)
    user = await register(api)
    response = await api.put(
        f"/api/auth/users/{user['id']}/role", headers=bearer(token), json={"role": "owner"}
    )
    assert is_error(response, 400, "ValidationError")


async def test_the_last_active_admin_cannot_demote_themselves(api):
    token = await admin_token(api)
    me = (await api.get("/api/auth/profile", headers=bearer(token))).json()
    response = await api.put(
        f"/api/auth/users/{me['id']}/role", headers=bearer(token), json={"role": "customer"}
    )
    assert is_error(response, 409, "ConflictError")
    assert "no active admin" in response.json()["detail"]
    assert (await login(api, ADMIN_EMAIL, ADMIN_PASSWORD)).json()["user"]["role"] == "admin"


async def test_customers_and_staff_get_403_on_admin_routes_and_change_nothing(api):
    victim = await register(api)
    customer, customer_token = await signed_up(api)
    staff_token = await token_of(api, ADMIN_EMAIL, ADMIN_PASSWORD)
    staff = await register(api)
    await api.put(
        f"/api/auth/users/{staff['id']}/role", headers=bearer(staff_token), json={"role": "staff"}
    )
    staff_token = await token_of(api, staff["email"], staff["password"])

    for token in (customer_token, staff_token):
        listing = await api.get("/api/auth/users", headers=bearer(token))
        assert is_error(listing, 403, "PermissionError")
        promote = await api.put(
            f"/api/auth/users/{customer['id']}/role", headers=bearer(token), json={"role": "admin"}
        )
        assert is_error(promote, 403, "PermissionError")
    [row] = await users_with_email(api, customer["email"])
    assert row.role == "customer"
    [row] = await users_with_email(api, victim["email"])
    assert row.role == "customer"


async def test_an_admin_on_a_private_domain_is_seeded_as_configured(backend, make_settings):
    settings = make_settings(backend, BOXOFFICE_ADMIN_EMAIL="Boss@Cinema.Local")
    async with cleaned_up(settings), auth_started(settings) as api:
        response = await login(api, "boss@cinema.local", ADMIN_PASSWORD)
        assert response.status_code == 200
        assert response.json()["user"]["email"] == "boss@cinema.local"
