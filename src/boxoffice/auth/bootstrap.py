"""Start-up hooks: the password hasher, and the admin named by BOXOFFICE_ADMIN_EMAIL/PASSWORD."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.auth.passwords import MAX_PASSWORD_BYTES, PASSWORDS, PasswordHasher
from boxoffice.auth.repository import DuplicateValue
from boxoffice.auth.service import AuthService
from boxoffice.core.app import ServiceContext

log = structlog.get_logger("boxoffice.auth")

# Where seed_admin leaves a password it generated, for `boxoffice up` to print once (and drop).
GENERATED_ADMIN = "generated_admin_password"


async def prepare_passwords(ctx: ServiceContext) -> None:
    """Make the hasher (and its dummy hash) at the configured cost, once per process."""
    ctx.state[PASSWORDS] = await PasswordHasher.create(ctx.settings.bcrypt_rounds)


async def seed_admin(ctx: ServiceContext) -> None:
    """Create or update the configured admin; safe when several processes start at once.

    With an e-mail but no password, embedded mode creates that admin once, with a random
    password left in the runtime for `boxoffice up` to print; a later start leaves it alone.
    """
    email, password = ctx.settings.admin_email, ctx.settings.admin_password
    if not email or (not password and ctx.settings.distributed):
        return
    if password and (len(password) < 6 or len(password.encode("utf-8")) > MAX_PASSWORD_BYTES):
        raise RuntimeError("BOXOFFICE_ADMIN_PASSWORD must be 6 characters to 72 bytes long")
    # Only lower-cased, not validated like a customer's address: an operator may well choose a
    # private domain (the CLI's default admin is admin@boxoffice.local).
    email = email.strip().lower()
    if "@" not in email or "\x00" in email or len(email) > 255:
        raise RuntimeError("BOXOFFICE_ADMIN_EMAIL must be an e-mail address")
    if password:
        hashed = await ctx.state[PASSWORDS].hash(password)
        await _retrying(
            ctx, email, lambda s: AuthService.from_context(ctx, s).ensure_admin(email, hashed)
        )
        return
    await _retrying(ctx, email, lambda s: _first_admin(ctx, s, email))


async def _first_admin(ctx: ServiceContext, session: AsyncSession, email: str) -> None:
    """Create the admin with a generated password, unless the account exists already."""
    auth = AuthService.from_context(ctx, session)
    existing = await auth.find_account(email)
    if existing is not None:
        if existing.role != "admin":
            log.warning("admin_email_is_not_an_admin", email=email)
        return
    generated = secrets.token_urlsafe(12)
    await auth.ensure_admin(email, await auth.passwords.hash(generated))
    ctx.runtime.extras[GENERATED_ADMIN] = (email, generated)


async def _retrying(
    ctx: ServiceContext, email: str, work: Callable[[AsyncSession], Awaitable[object]]
) -> None:
    for attempt in range(5):
        async with ctx.db.sessionmaker() as session:
            try:
                await work(session)
                await session.commit()
            except DuplicateValue:
                # Another process inserted the admin between our lookup and our insert: the
                # next attempt finds the row and updates it.
                await session.rollback()
                await asyncio.sleep(0.05 * (attempt + 1))
                continue
        log.info("admin_ready", email=email)
        return
    raise RuntimeError(f"could not create or update the admin {email}")


async def republish_cut_offs(ctx: ServiceContext) -> None:
    """Copy the live logouts and recent not-befores from the database (the source of truth) to
    the token store, in case the store lost them (a Redis restart without persistence, a wiped
    data dir), then mark the store complete."""
    try:
        async with ctx.db.sessionmaker() as session:
            count = await AuthService.from_context(ctx, session).republish_cut_offs()
            await session.commit()
        await ctx.runtime.revocations.mark_complete()
    except Exception as exc:  # the store being down must not stop the service (SPEC 4.7)
        log.warning("cut_offs_not_republished", error=repr(exc))
        return
    if count:
        log.info("cut_offs_republished", tokens_and_users=count)


# How often each auth process looks whether the token store lost its data.
STORE_CHECK_SECONDS = 2.0


async def keep_token_store_complete(ctx: ServiceContext) -> None:
    """Background loop: when Redis comes back empty after a restart, logouts and account
    cut-offs would be forgotten and their tokens work again; copy them back within seconds.

    Every auth process checks (one EXISTS every two seconds); copying twice is harmless.
    """
    while True:
        await asyncio.sleep(STORE_CHECK_SECONDS)
        try:
            lost = await ctx.runtime.revocations.lost_its_data()
        except Exception:  # Redis down: look again next round
            continue
        if lost:
            log.warning("token_store_lost_its_data")
            await republish_cut_offs(ctx)
