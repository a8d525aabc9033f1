"""Auth routes (design 4.1): thin; the rules live in service.py."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.security import OAuth2PasswordRequestForm

from boxoffice.auth import errors, service
from boxoffice.auth.deps import Account, Passwords
from boxoffice.auth.models import User
from boxoffice.auth.schemas import (
    Message,
    PasswordChange,
    ProfileUpdate,
    RegisterRequest,
    RoleChange,
    SearchText,
    TokenResponse,
    UserCreate,
    UserOut,
    VerifyResponse,
)
from boxoffice.core.app import Context, DbSession
from boxoffice.core.auth import AdminUser, CurrentUser, Role
from boxoffice.core.errors import NotAuthenticated, PermissionDenied, ServiceUnavailable, responses
from boxoffice.core.pagination import Limit, Offset

router = APIRouter(tags=["auth"])


@router.post(
    "/register",
    status_code=201,
    response_model=UserOut,
    responses=responses(errors.EmailAlreadyRegistered),
)
async def register(body: RegisterRequest, session: DbSession, passwords: Passwords) -> User:
    """Create a customer account."""
    return await service.register(session, passwords, body)


@router.post(
    "/token",
    response_model=TokenResponse,
    responses=responses(
        errors.InvalidCredentials, errors.AccountDisabled, errors.TooManyLoginAttempts
    ),
)
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: DbSession,
    passwords: Passwords,
    ctx: Context,
) -> TokenResponse:
    """Log in with the e-mail or the username as `username` (OAuth2 password form)."""
    lockout = ctx.runtime.lockout
    assert lockout is not None  # the runtime always makes one
    user = await service.log_in(session, passwords, lockout, form.username, form.password)
    return service.token_for(ctx.settings, user)


@router.get("/verify", response_model=VerifyResponse, responses=responses(NotAuthenticated))
async def verify(principal: CurrentUser, account: Account) -> VerifyResponse:
    """The token's account and claims, when the token is valid and not revoked."""
    return VerifyResponse.of(UserOut.model_validate(account), service.claims_of(principal))


@router.get("/profile", response_model=UserOut, responses=responses(NotAuthenticated))
async def read_profile(account: Account) -> User:
    """The caller's own account."""
    return account


@router.put("/profile", response_model=UserOut, responses=responses(NotAuthenticated))
async def update_profile(body: ProfileUpdate, account: Account, session: DbSession) -> User:
    """Change the caller's full name or phone number."""
    return await service.update_profile(session, account, body)


@router.post(
    "/change-password",
    response_model=Message,
    responses=responses(NotAuthenticated, errors.WrongCurrentPassword, errors.TokensNotInvalidated),
)
async def change_password(
    body: PasswordChange, account: Account, session: DbSession, passwords: Passwords, ctx: Context
) -> Message:
    """Replace the caller's password; the current one must be given. Every token issued
    before, this one included, stops working: log in again with the new password."""
    await service.change_password(
        session, passwords, ctx.runtime.revocations, ctx.settings, account, body
    )
    return Message(message="Password changed; log in again")


@router.post(
    "/logout", response_model=Message, responses=responses(NotAuthenticated, ServiceUnavailable)
)
async def logout(principal: CurrentUser, ctx: Context, session: DbSession) -> Message:
    """Revoke this token; every service refuses it from now on."""
    await service.logout(session, ctx.runtime.revocations, principal)
    return Message(message="Logged out")


@router.get(
    "/users",
    response_model=list[UserOut],
    responses=responses(NotAuthenticated, PermissionDenied),
)
async def list_users(
    _: AdminUser,
    session: DbSession,
    limit: Limit = 50,
    offset: Offset = 0,
    role: Role | None = None,
    active: Annotated[bool | None, Query(description="Only active (or disabled) ones")] = None,
    q: Annotated[SearchText, Query(max_length=100, description="Part of e-mail, name")] = None,
) -> Sequence[User]:
    """Every account, oldest first (admins only)."""
    return await service.list_users(
        session, limit=limit, offset=offset, role=role, active=active, search=q
    )


@router.post(
    "/users",
    status_code=201,
    response_model=UserOut,
    responses=responses(
        NotAuthenticated, PermissionDenied, errors.EmailAlreadyRegistered, errors.UsernameTaken
    ),
)
async def create_user(
    body: UserCreate, _: AdminUser, session: DbSession, passwords: Passwords
) -> User:
    """Make an account with any role, e.g. a staff member's (admins only)."""
    return await service.create_user(session, passwords, body)


_CHANGE_ERRORS = responses(
    NotAuthenticated,
    PermissionDenied,
    errors.UserNotFound,
    errors.LastActiveAdmin,
    errors.TokensNotInvalidated,
)


@router.put("/users/{user_id}/role", response_model=UserOut, responses=_CHANGE_ERRORS)
async def change_role(
    user_id: uuid.UUID, body: RoleChange, _: AdminUser, session: DbSession, ctx: Context
) -> User:
    """Make a user a customer, staff member or admin (admins only); the user's tokens issued
    before stop working. Refused (409) when it would leave no active admin."""
    return await service.change_role(
        session, ctx.runtime.revocations, ctx.settings, user_id, body.role
    )


@router.post("/users/{user_id}/deactivate", response_model=UserOut, responses=_CHANGE_ERRORS)
async def deactivate_user(
    user_id: uuid.UUID, _: AdminUser, session: DbSession, ctx: Context
) -> User:
    """Disable an account: no more logins, and its tokens stop working at once (admins only).
    Refused (409) when it would leave no active admin."""
    return await service.deactivate(session, ctx.runtime.revocations, ctx.settings, user_id)


@router.post(
    "/users/{user_id}/reactivate",
    response_model=UserOut,
    responses=responses(NotAuthenticated, PermissionDenied, errors.UserNotFound),
)
async def reactivate_user(user_id: uuid.UUID, _: AdminUser, session: DbSession) -> User:
    """Let a disabled account log in again (admins only)."""
    return await service.reactivate(session, user_id)
