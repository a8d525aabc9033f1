"""Start-up hooks: the password hasher, and the admin named by BOXOFFICE_ADMIN_EMAIL/PASSWORD."""

from __future__ import annotations

import asyncio

import structlog

from boxoffice.auth import service
from boxoffice.auth.passwords import MAX_PASSWORD_BYTES, PasswordHasher
from boxoffice.auth.repository import DuplicateValue
from boxoffice.core.app import ServiceContext

log = structlog.get_logger("boxoffice.auth")

PASSWORDS = "passwords"


async def prepare_passwords(ctx: ServiceContext) -> None:
    """Make the hasher (and its dummy hash) at the configured cost, once per process."""
    ctx.state[PASSWORDS] = await PasswordHasher.create(ctx.settings.bcrypt_rounds)


async def seed_admin(ctx: ServiceContext) -> None:
    """Create or update the configured admin; safe when several processes start at once."""
    email, password = ctx.settings.admin_email, ctx.settings.admin_password
    if not email or not password:
        return
    if len(password) < 6 or len(password.encode("utf-8")) > MAX_PASSWORD_BYTES:
        raise RuntimeError("BOXOFFICE_ADMIN_PASSWORD must be 6 characters to 72 bytes long")
    # Only lower-cased, not validated like a customer's address: an operator may well choose a
    # private domain (the CLI's default admin is admin@boxoffice.local).
    email = email.strip().lower()
    if "@" not in email or "\x00" in email or len(email) > 255:
        raise RuntimeError("BOXOFFICE_ADMIN_EMAIL must be an e-mail address")
    password_hash = await ctx.state[PASSWORDS].hash(password)
    for attempt in range(5):
        async with ctx.db.sessionmaker() as session:
            try:
                await service.ensure_admin(session, email, password_hash)
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
