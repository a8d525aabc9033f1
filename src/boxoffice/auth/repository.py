"""The only place the auth service queries its database."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.auth.models import USERNAME_INDEX, User


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


class UserRepository:
    """Users by id, e-mail or username; inserts that let the unique constraints decide."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

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

    async def get(self, user_id: uuid.UUID) -> User | None:
        return await self.session.get(User, user_id)

    async def by_email(self, email: str) -> User | None:
        return await self.session.scalar(sa.select(User).where(User.email == email.lower()))

    async def by_username(self, username: str) -> User | None:
        return await self.session.scalar(
            sa.select(User).where(sa.func.lower(User.username) == username.lower())
        )

    async def list(
        self, *, limit: int, offset: int, role: str | None = None, search: str | None = None
    ) -> Sequence[User]:
        query = sa.select(User)
        if role is not None:
            query = query.where(User.role == role)
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
        return (await self.session.scalars(query)).all()

    async def flush(self) -> None:
        await self.session.flush()
