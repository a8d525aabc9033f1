"""Auth routes (design 4.1): thin; the rules live in service.py."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.security import OAuth2PasswordRequestForm

from boxoffice.auth import errors
from boxoffice.auth.deps import Account, Service, UserById
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
from boxoffice.auth.service import AuthService
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
async def register(body: RegisterRequest, service: Service) -> User:
    """Create a customer account."""
    return await service.register(body)


@router.post(
    "/token",
    response_model=TokenResponse,
    responses=responses(
        errors.InvalidCredentials, errors.AccountDisabled, errors.TooManyLoginAttempts
    ),
)
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], service: Service
) -> TokenResponse:
    """Log in with the e-mail or the username as `username` (OAuth2 password form)."""
    return await service.log_in(form.username, form.password)


@router.get("/verify", response_model=VerifyResponse, responses=responses(NotAuthenticated))
async def verify(principal: CurrentUser, account: Account) -> VerifyResponse:
    """The token's account and claims, when the token is valid and not revoked."""
    return VerifyResponse.of(UserOut.model_validate(account), AuthService.claims_of(principal))


@router.get("/profile", response_model=UserOut, responses=responses(NotAuthenticated))
async def read_profile(account: Account) -> User:
    """The caller's own account."""
    return account


@router.put("/profile", response_model=UserOut, responses=responses(NotAuthenticated))
async def update_profile(body: ProfileUpdate, account: Account, service: Service) -> User:
    """Change the caller's full name or phone number."""
    return await service.update_profile(account, body)


@router.post(
    "/change-password",
    response_model=Message,
    responses=responses(NotAuthenticated, errors.WrongCurrentPassword, errors.TokensNotInvalidated),
)
async def change_password(body: PasswordChange, account: Account, service: Service) -> Message:
    """Replace the caller's password; the current one must be given. Every token issued
    before, this one included, stops working: log in again with the new password."""
    await service.change_password(account, body)
    return Message(message="Password changed; log in again")


@router.post(
    "/logout", response_model=Message, responses=responses(NotAuthenticated, ServiceUnavailable)
)
async def logout(principal: CurrentUser, service: Service) -> Message:
    """Revoke this token; every service refuses it from now on."""
    await service.logout(principal)
    return Message(message="Logged out")


@router.get(
    "/users",
    response_model=list[UserOut],
    responses=responses(NotAuthenticated, PermissionDenied),
)
async def list_users(
    _: AdminUser,
    service: Service,
    limit: Limit = 50,
    offset: Offset = 0,
    role: Role | None = None,
    active: Annotated[bool | None, Query(description="Only active (or disabled) ones")] = None,
    q: Annotated[SearchText, Query(max_length=100, description="Part of e-mail, name")] = None,
) -> Sequence[User]:
    """Every account, oldest first (admins only)."""
    return await service.list_users(limit=limit, offset=offset, role=role, active=active, search=q)


@router.post(
    "/users",
    status_code=201,
    response_model=UserOut,
    responses=responses(
        NotAuthenticated, PermissionDenied, errors.EmailAlreadyRegistered, errors.UsernameTaken
    ),
)
async def create_user(body: UserCreate, _: AdminUser, service: Service) -> User:
    """Make an account with any role, e.g. a staff member's (admins only)."""
    return await service.create_user(body)


_CHANGE_ERRORS = responses(
    NotAuthenticated,
    PermissionDenied,
    errors.UserNotFound,
    errors.LastActiveAdmin,
    errors.TokensNotInvalidated,
)


@router.put("/users/{user_id}/role", response_model=UserOut, responses=_CHANGE_ERRORS)
async def change_role(user_id: uuid.UUID, body: RoleChange, _: AdminUser, service: Service) -> User:
    """Make a user a customer, staff member or admin (admins only); the user's tokens issued
    before stop working. Refused (409) when it would leave no active admin."""
    # By id, not UserById: the body is checked (422) before the user is looked up (404).
    return await service.change_role(user_id, body.role)


@router.post("/users/{user_id}/deactivate", response_model=UserOut, responses=_CHANGE_ERRORS)
async def deactivate_user(user: UserById, service: Service) -> User:
    """Disable an account: no more logins, and its tokens stop working at once (admins only).
    Refused (409) when it would leave no active admin."""
    return await service.deactivate(user)


@router.post(
    "/users/{user_id}/reactivate",
    response_model=UserOut,
    responses=responses(NotAuthenticated, PermissionDenied, errors.UserNotFound),
)
async def reactivate_user(user: UserById, service: Service) -> User:
    """Let a disabled account log in again (admins only)."""
    return await service.reactivate(user)
