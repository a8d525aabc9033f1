"""Dependencies of the auth routes: the password hasher and the caller's own account."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from boxoffice.auth import service
from boxoffice.auth.bootstrap import PASSWORDS
from boxoffice.auth.models import User
from boxoffice.auth.passwords import PasswordHasher
from boxoffice.core.app import Context, DbSession
from boxoffice.core.auth import CurrentUser


async def _passwords(ctx: Context) -> PasswordHasher:
    return ctx.state[PASSWORDS]  # type: ignore[no-any-return]


async def _account(user: CurrentUser, session: DbSession) -> User:
    return await service.current_account(session, user)


Passwords = Annotated[PasswordHasher, Depends(_passwords)]
Account = Annotated[User, Depends(_account)]
"""The caller's account, loaded: 401 without a valid token or when the account is gone."""
