"""The only place the auth service queries its database."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from boxoffice.auth.models import USERNAME_INDEX, RevokedToken, User
from boxoffice.core.repository import RepositoryBase


class DuplicateValue(Exception):
    """A unique constraint refused a row; `field` names which (`email` or `username`)."""

    def __init__(self, field: str) -> None:
        self.field = field
        super().__init__(f"duplicate {field}")


def _violated_field(exc: IntegrityError) -> str | None:
    """Which unique field an IntegrityError is about, from the constraint's name.

    The offending value is never inspected, so a username such as "email" cannot mislead it.
    """
    cause = getattr(exc.orig, "__cause__", None)
    constraint = getattr(cause, "constraint_name", None)  # asyncpg names the constraint
    if constraint is None:
        # SQLite: "UNIQUE constraint failed: users.email" or "... index 'uq_users_username_lower'"
        message = str(exc.orig)
        if "UNIQUE constraint failed" not in message:
            return None
        constraint = message.rsplit(":", 1)[-1]
    if "uq_users_email" in constraint or "users.email" in constraint:
        return "email"
    if USERNAME_INDEX in constraint:
        return "username"
    return None


class UserRepository(RepositoryBase[User]):
    """Users by id, e-mail or username; inserts that let the unique constraints decide."""

    model = User

    async def add(self, user: User) -> User:
        """Insert and flush; raise DuplicateValue when the e-mail or username is taken."""
        self.session.add(user)
        try:
            await self.session.flush()
        except IntegrityError as exc:
            field = _violated_field(exc)
            if field is None:
                raise
            raise DuplicateValue(field) from exc
        return user

    async def by_email(self, email: str) -> User | None:
        return await self.one_or_none(self.select().where(User.email == email.lower()))

    async def by_username(self, username: str) -> User | None:
        return await self.one_or_none(
            self.select().where(sa.func.lower(User.username) == username.lower())
        )

    async def list(
        self,
        *,
        limit: int,
        offset: int,
        role: str | None = None,
        active: bool | None = None,
        search: str | None = None,
    ) -> Sequence[User]:
        query = self.select()
        if role is not None:
            query = query.where(User.role == role)
        if active is not None:
            query = query.where(User.is_active == active)
        if search:
            pattern = (
                "%"
                + search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                + "%"
            )
            query = query.where(
                sa.or_(
                    User.email.like(pattern, escape="\\"),
                    sa.func.lower(User.username).like(pattern, escape="\\"),
                    sa.func.lower(User.full_name).like(pattern, escape="\\"),
                )
            )
        query = query.order_by(User.created_at, User.id).limit(limit).offset(offset)
        return await self.all(query)

    async def other_active_admins(self, user_id: uuid.UUID) -> int:
        """How many active admins there are besides this user.

        Every active admin's row is locked (PostgreSQL) until the caller commits: two admins
        demoting each other at once then run one after the other, and the second sees the first.
        """
        ids = await self.session.scalars(
            sa.select(User.id)
            .where(User.role == "admin", User.is_active.is_(True))
            .with_for_update()
        )
        return sum(1 for uid in ids if uid != user_id)

    async def changed_since(self, after_ms: int) -> Sequence[tuple[uuid.UUID, int]]:
        """Users whose tokens were cut off after `after_ms`, with that time."""
        rows = await self.session.execute(
            sa.select(User.id, User.tokens_valid_after_ms).where(
                User.tokens_valid_after_ms > after_ms
            )
        )
        return [(uid, int(at)) for uid, at in rows.all()]

    async def flush(self) -> None:
        await self.session.flush()


class RevokedTokenRepository(RepositoryBase[RevokedToken]):
    """Logged-out tokens (the source of truth behind the revocation store); `add` one per
    logout (a token is logged out once: the second logout is refused, 401, before it gets here).
    """

    model = RevokedToken

    async def unexpired(self, now: dt.datetime) -> Sequence[tuple[str, dt.datetime]]:
        rows = await self.session.execute(
            sa.select(RevokedToken.jti, RevokedToken.expires_at).where(
                RevokedToken.expires_at > now
            )
        )
        return [(jti, expires_at) for jti, expires_at in rows.all()]

    async def delete_expired(self, now: dt.datetime) -> int:
        result = await self.session.execute(
            sa.delete(RevokedToken).where(RevokedToken.expires_at <= now)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
