"""`boxoffice users list|create|set-role|deactivate|reactivate`: manage accounts and roles.

Runs the auth service's own rules (auth/service.py) against the configured auth database, in
either mode, so it needs no running system and no admin password. Changes that must end a
user's tokens also write the not-before to the token store of the mode (Redis, or embedded
mode's file in the data dir, which the running system rereads within a second).
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from redis.asyncio import Redis
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.auth.models import User
from boxoffice.auth.passwords import PasswordHasher
from boxoffice.auth.repository import RevokedTokenRepository, UserRepository
from boxoffice.auth.schemas import UserCreate
from boxoffice.auth.service import AuthService
from boxoffice.cli.serving import load_settings
from boxoffice.core.auth import ROLES
from boxoffice.core.db import Database
from boxoffice.core.errors import AppError
from boxoffice.core.kv import RevocationStore
from boxoffice.core.migrations import migrate
from boxoffice.core.runtime import file_revocation_store, redis_prefix
from boxoffice.settings import Settings

app = typer.Typer(no_args_is_help=True)
T = TypeVar("T")


def _fail(message: str) -> None:
    Console(stderr=True, highlight=False, soft_wrap=True).print(f"[bold red]error:[/] {message}")
    raise typer.Exit(1)


@asynccontextmanager
async def _tokens(settings: Settings) -> AsyncIterator[RevocationStore]:
    if not settings.distributed:
        yield file_revocation_store(settings)
        return
    from boxoffice.core.kv import RedisRevocationStore

    redis = Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
    try:
        yield RedisRevocationStore(redis, redis_prefix(settings))
    finally:
        await redis.aclose()


def _service(
    settings: Settings,
    session: AsyncSession,
    tokens: RevocationStore,
    passwords: PasswordHasher | None = None,
) -> AuthService:
    """The auth service as the running system has it, minus what nobody here needs (no login
    lock-out; a password hasher only for the command that makes an account)."""
    return AuthService(
        UserRepository(session),
        RevokedTokenRepository(session),
        settings,
        tokens=tokens,
        passwords=passwords,
    )


async def _in_transaction(
    settings: Settings, work: Callable[[AuthService], Awaitable[T]], *, with_passwords: bool
) -> T:
    url = settings.database_url_for("auth")
    await migrate("boxoffice.auth", url)
    db = Database(url, pool_size=1, max_overflow=0)
    passwords = await PasswordHasher.create(settings.bcrypt_rounds) if with_passwords else None
    try:
        async with _tokens(settings) as tokens, db.transaction() as session:
            return await work(_service(settings, session, tokens, passwords))
    finally:
        await db.dispose()


def _run(work: Callable[[AuthService], Awaitable[T]], *, with_passwords: bool = False) -> T:
    settings = load_settings()
    try:
        return asyncio.run(_in_transaction(settings, work, with_passwords=with_passwords))
    except AppError as exc:
        _fail(str(exc.detail))
        raise  # unreachable: _fail exits


def _show(users: list[User]) -> None:
    table = Table("id", "email", "username", "role", "active", "created")
    for u in users:
        table.add_row(
            str(u.id),
            u.email,
            u.username,
            u.role,
            "yes" if u.is_active else "no",
            u.created_at.strftime("%Y-%m-%d %H:%M"),
        )
    Console(width=200).print(table)


async def _user_id(service: AuthService, who: str) -> uuid.UUID:
    """A user named by id, e-mail or username."""
    try:
        return uuid.UUID(who)
    except ValueError:
        pass
    user = await service.find_by_login(who)
    if user is None:
        _fail(f"no user {who!r}")
    assert user is not None
    return user.id


RoleOption = Annotated[str, typer.Option(help=f"One of {', '.join(ROLES)}")]
Who = Annotated[str, typer.Argument(help="The user's id, e-mail or username")]


def _role(value: str) -> Any:
    if value not in ROLES:
        _fail(f"unknown role {value!r}: use one of {', '.join(ROLES)}")
    return value


@app.command("list")
def list_command(
    role: Annotated[str | None, typer.Option(help=f"Only this role ({', '.join(ROLES)})")] = None,
    active: Annotated[
        bool | None, typer.Option("--active/--inactive", help="Only active or disabled ones")
    ] = None,
    search: Annotated[str | None, typer.Option(help="Part of e-mail, username, name")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    offset: Annotated[int, typer.Option(min=0)] = 0,
) -> None:
    """List accounts, oldest first."""
    checked = _role(role) if role else None
    users = _run(
        lambda service: service.list_users(
            limit=limit, offset=offset, role=checked, active=active, search=search
        )
    )
    _show(list(users))


@app.command("create")
def create_command(
    email: Annotated[str, typer.Argument(help="The new account's e-mail")],
    role: RoleOption = "staff",
    username: Annotated[str | None, typer.Option(help="Defaults to the e-mail")] = None,
    full_name: Annotated[str | None, typer.Option(help="Shown name")] = None,
    password: Annotated[
        str | None,
        typer.Option(
            envvar="BOXOFFICE_NEW_USER_PASSWORD",
            help="The password (default: a random one, printed once)",
        ),
    ] = None,
) -> None:
    """Make an account with a role (staff by default)."""
    generated = password is None
    try:
        data = UserCreate(
            email=email,
            username=username,
            full_name=full_name,
            password=password or secrets.token_urlsafe(12),
            role=_role(role),
        )
    except ValidationError as exc:
        _fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))
        raise  # unreachable

    user = _run(lambda service: service.create_user(data), with_passwords=True)
    _show([user])
    if generated:
        typer.echo(f"password: {data.password}  (shown once; they should change it)")


def _change(who: str, change: Callable[[AuthService, uuid.UUID], Awaitable[User]]) -> None:
    async def work(service: AuthService) -> User:
        return await change(service, await _user_id(service, who))

    _show([_run(work)])


@app.command("set-role")
def set_role_command(who: Who, role: Annotated[str, typer.Argument(help=", ".join(ROLES))]) -> None:
    """Give a user a role; their tokens issued before stop working at once."""
    checked = _role(role)
    _change(who, lambda service, uid: service.change_role(uid, checked))


@app.command("deactivate")
def deactivate_command(who: Who) -> None:
    """Disable an account: no more logins, and its tokens stop working at once."""

    async def deactivate(service: AuthService, user_id: uuid.UUID) -> User:
        return await service.deactivate(await service.user(user_id))

    _change(who, deactivate)


@app.command("reactivate")
def reactivate_command(who: Who) -> None:
    """Let a disabled account log in again."""

    async def reactivate(service: AuthService, user_id: uuid.UUID) -> User:
        return await service.reactivate(await service.user(user_id))

    _change(who, reactivate)
