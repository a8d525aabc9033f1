"""The auth service's rules: accounts, passwords, logins, logout and roles. Never commits."""

from __future__ import annotations

import datetime as dt
import math
import time
import uuid
from collections.abc import Sequence

import jwt
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.auth import errors
from boxoffice.auth.models import User
from boxoffice.auth.passwords import PasswordHasher
from boxoffice.auth.repository import DuplicateValue, RevokedTokenRepository, UserRepository
from boxoffice.auth.schemas import (
    LoginUser,
    PasswordChange,
    ProfileUpdate,
    RegisterRequest,
    TokenClaims,
    TokenResponse,
    UserCreate,
)
from boxoffice.auth.settings import AuthSettings
from boxoffice.core.auth import STALE_TOKEN, Principal, Role, is_stale, issue_token
from boxoffice.core.errors import NotAuthenticated, ServiceUnavailable
from boxoffice.core.kv import RevocationStore
from boxoffice.core.lockout import Lockout, retry_after


async def register(session: AsyncSession, passwords: PasswordHasher, data: RegisterRequest) -> User:
    """Create a customer account; the unique constraints (not a prior lookup) refuse duplicates."""
    user = User(
        email=data.email,
        username=data.username,
        password_hash=await passwords.hash(data.password),
        full_name=data.full_name,
        phone_number=data.phone_number,
        role="customer",
        is_active=True,
    )
    try:
        return await UserRepository(session).add(user)
    except DuplicateValue as dup:
        if dup.field == "email":
            raise errors.EmailAlreadyRegistered()
        raise errors.UsernameTaken()


async def find_by_login(session: AsyncSession, login: str) -> User | None:
    """The account a login name means: an e-mail when it contains "@", else a username.

    Registration only lets a username contain "@" when it is its owner's e-mail, so the two
    lookups can never name different accounts.
    """
    repo = UserRepository(session)
    login = login.strip()
    # No account can be named by text the database cannot even compare (NUL).
    if not login or "\x00" in login:
        return None
    if "@" in login:
        return await repo.by_email(login)
    return await repo.by_username(login)


async def authenticate(
    session: AsyncSession, passwords: PasswordHasher, login: str, password: str
) -> User:
    """The account for these credentials; unknown user and wrong password fail alike."""
    user = await find_by_login(session, login)
    # With no user, the hasher checks a dummy hash: both failures take the same time.
    if not await passwords.verify(password, user.password_hash if user else None):
        raise errors.InvalidCredentials()
    assert user is not None
    if not user.is_active:
        raise errors.AccountDisabled()
    return user


async def log_in(
    session: AsyncSession, passwords: PasswordHasher, lockout: Lockout, login: str, password: str
) -> User:
    """`authenticate`, at most so many attempts per login name in a while (finding 11.9).

    The attempt is counted before the password is checked, so concurrent guesses cannot race
    past the limit; the count is per login name as typed (trimmed, case-folded), whether or not
    an account has it, so a lock-out says nothing about which accounts exist.
    """
    name = login.strip().lower()
    wait = await lockout.attempt(name)
    if wait > 0:
        raise errors.TooManyLoginAttempts(retry_after(wait))
    user = await authenticate(session, passwords, login, password)
    await lockout.reset(name)
    return user


def token_for(settings: AuthSettings, user: User) -> TokenResponse:
    """Sign an access token for a user (design 5.1 claims plus `jti`)."""
    token, expires = issue_token(settings, user_id=user.id, email=user.email, role=user.role)
    expires_in = max(0, math.floor((expires - dt.datetime.now(dt.UTC)).total_seconds()))
    return TokenResponse(
        access_token=token, expires_in=expires_in, user=LoginUser.model_validate(user)
    )


def claims_of(principal: Principal) -> TokenClaims:
    """The claims of a token that the core dependency has already verified."""
    claims = jwt.decode(principal.token, options={"verify_signature": False})
    return TokenClaims.model_validate(claims)


async def current_account(session: AsyncSession, principal: Principal) -> User:
    """The token's account; a token outliving its account (deleted or disabled) is refused."""
    user = await UserRepository(session).get(principal.user_id)
    if user is None or not user.is_active:
        raise errors.AccountUnavailable()
    # The auth service has the source of truth at hand: its own routes need not trust the store.
    if is_stale(principal, user.tokens_valid_after_ms):
        raise NotAuthenticated(STALE_TOKEN)
    return user


async def update_profile(session: AsyncSession, user: User, changes: ProfileUpdate) -> User:
    """Apply only the fields the caller sent (sending null clears a field)."""
    for field in changes.model_fields_set & {"full_name", "phone_number"}:
        setattr(user, field, getattr(changes, field))
    await UserRepository(session).flush()
    return user


def token_lifetime_seconds(settings: AuthSettings) -> int:
    """How long a token issued now can live: how long a not-before must be remembered."""
    return settings.access_token_expire_minutes * 60 + 60


async def cut_off_tokens(
    session: AsyncSession, tokens: RevocationStore, settings: AuthSettings, user: User
) -> None:
    """Refuse, in every service, each token issued to this user until now (finding 11.3).

    Called before the request's commit: when the store cannot be written, the change is not
    made either (503), rather than made while the user's old tokens keep working elsewhere.
    """
    at_ms = math.floor(time.time() * 1000)
    user.tokens_valid_after_ms = at_ms
    await UserRepository(session).flush()
    try:
        await tokens.set_not_before(str(user.id), at_ms, token_lifetime_seconds(settings))
    except Exception as exc:
        raise errors.TokensNotInvalidated() from exc


async def change_password(
    session: AsyncSession,
    passwords: PasswordHasher,
    tokens: RevocationStore,
    settings: AuthSettings,
    user: User,
    change: PasswordChange,
) -> None:
    """Replace the password; every token issued before (this one too) stops working."""
    if not await passwords.verify(change.current_password, user.password_hash):
        raise errors.WrongCurrentPassword()
    if change.new_password == change.current_password:
        raise errors.PasswordUnchanged()
    user.password_hash = await passwords.hash(change.new_password)
    await cut_off_tokens(session, tokens, settings, user)


async def logout(session: AsyncSession, revocations: RevocationStore, principal: Principal) -> None:
    """Revoke this token until it would have expired anyway; every service then refuses it.

    The database keeps the logout too (committed with the request), so a Redis restart that
    loses the store's copy cannot bring the token back (`republish_cut_offs`).
    """
    await RevokedTokenRepository(session).add(
        principal.jti, principal.user_id, principal.expires_at
    )
    remaining = (principal.expires_at - dt.datetime.now(dt.UTC)).total_seconds()
    try:
        await revocations.revoke(principal.jti, max(1, math.ceil(remaining)))
    except Exception as exc:
        raise ServiceUnavailable("Token revocation list unavailable") from exc


async def list_users(
    session: AsyncSession,
    *,
    limit: int,
    offset: int,
    role: Role | None = None,
    active: bool | None = None,
    search: str | None = None,
) -> Sequence[User]:
    return await UserRepository(session).list(
        limit=limit, offset=offset, role=role, active=active, search=search
    )


async def create_user(session: AsyncSession, passwords: PasswordHasher, data: UserCreate) -> User:
    """An account with any role (how staff accounts are made); duplicates refused as at sign-up."""
    user = User(
        email=data.email,
        username=data.username or data.email,
        password_hash=await passwords.hash(data.password),
        full_name=data.full_name,
        phone_number=data.phone_number,
        role=data.role,
        is_active=True,
    )
    try:
        return await UserRepository(session).add(user)
    except DuplicateValue as dup:
        if dup.field == "email":
            raise errors.EmailAlreadyRegistered()
        raise errors.UsernameTaken()


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User:
    user = await UserRepository(session).get(user_id)
    if user is None:
        raise errors.UserNotFound()
    return user


async def _keep_an_admin(repo: UserRepository, user: User) -> None:
    """Refuse to take the last active admin's rights away (from themselves or by the CLI)."""
    if user.role == "admin" and user.is_active and not await repo.other_active_admins(user.id):
        raise errors.LastActiveAdmin()


async def change_role(
    session: AsyncSession,
    tokens: RevocationStore,
    settings: AuthSettings,
    user_id: uuid.UUID,
    role: Role,
) -> User:
    """Give a user a role; their tokens carrying the old role stop working at once."""
    repo = UserRepository(session)
    user = await get_user(session, user_id)
    if user.role == role:
        return user
    if role != "admin":
        await _keep_an_admin(repo, user)
    user.role = role
    await cut_off_tokens(session, tokens, settings, user)
    return user


async def deactivate(
    session: AsyncSession, tokens: RevocationStore, settings: AuthSettings, user_id: uuid.UUID
) -> User:
    """Disable an account: it cannot log in, and its tokens stop working at once."""
    user = await get_user(session, user_id)
    if not user.is_active:
        return user
    await _keep_an_admin(UserRepository(session), user)
    user.is_active = False
    await cut_off_tokens(session, tokens, settings, user)
    return user


async def reactivate(session: AsyncSession, user_id: uuid.UUID) -> User:
    """Let a disabled account log in again (its old tokens stay dead: they predate the cut)."""
    user = await get_user(session, user_id)
    user.is_active = True
    await UserRepository(session).flush()
    return user


async def republish_cut_offs(
    session: AsyncSession, tokens: RevocationStore, settings: AuthSettings
) -> int:
    """Copy the live logouts and recent not-befores from the database to the store (after
    Redis lost them, or a wiped data dir); returns how many were copied. Expired logouts are
    deleted on the way: nothing can present their tokens any more."""
    lifetime = token_lifetime_seconds(settings)
    now = dt.datetime.now(dt.UTC)
    now_ms = math.floor(now.timestamp() * 1000)
    recent = await UserRepository(session).changed_since(now_ms - lifetime * 1000)
    for user_id, at_ms in recent:
        remaining = lifetime - (now_ms - at_ms) // 1000
        await tokens.set_not_before(str(user_id), at_ms, max(1, remaining))
    logouts = RevokedTokenRepository(session)
    await logouts.delete_expired(now)
    live = await logouts.unexpired(now)
    for jti, expires_at in live:
        await tokens.revoke(jti, max(1, math.ceil((expires_at - now).total_seconds())))
    return len(recent) + len(live)


async def find_account(session: AsyncSession, email: str) -> User | None:
    """The account with this e-mail, whatever its role."""
    return await UserRepository(session).by_email(email.strip().lower())


async def ensure_admin(session: AsyncSession, email: str, password_hash: str) -> User:
    """Create the configured admin, or make the existing account an active admin with this
    password. Raises DuplicateValue when another process created it first (retry then)."""
    repo = UserRepository(session)
    email = email.strip().lower()
    user = await repo.by_email(email)
    if user is None:
        return await repo.add(
            User(
                email=email,
                username=email,
                password_hash=password_hash,
                full_name="Administrator",
                role="admin",
                is_active=True,
            )
        )
    user.password_hash = password_hash
    user.role = "admin"
    user.is_active = True
    await repo.flush()
    return user
