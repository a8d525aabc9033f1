"""Dependencies of the auth routes: the service, the caller's own account, a user by id."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends

from boxoffice.auth.models import User
from boxoffice.auth.service import AuthService
from boxoffice.core.app import Context, DbSession
from boxoffice.core.auth import AdminUser, CurrentUser


async def _service(ctx: Context, session: DbSession) -> AuthService:
    return AuthService.from_context(ctx, session)


Service = Annotated[AuthService, Depends(_service)]
"""The auth service on the request's session (committed when the route returns)."""


async def _account(user: CurrentUser, service: Service) -> User:
    return await service.current_account(user)


Account = Annotated[User, Depends(_account)]
"""The caller's account, loaded: 401 without a valid token or when the account is gone."""


async def _user_by_id(user_id: uuid.UUID, _: AdminUser, service: Service) -> User:
    return await service.user(user_id)


UserById = Annotated[User, Depends(_user_by_id)]
"""The account named by the path's `user_id`, for an admin: 401/403 first (nobody learns which
ids exist), then 404 (UserNotFound) when there is no such account."""
