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
from boxoffice.auth.models import RevokedToken, User
from boxoffice.auth.passwords import PASSWORDS, PasswordHasher
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
from boxoffice.core.app import ServiceContext
from boxoffice.core.auth import STALE_TOKEN, Principal, Role, is_stale, issue_token
from boxoffice.core.errors import NotAuthenticated, ServiceUnavailable
from boxoffice.core.kv import RevocationStore
from boxoffice.core.lockout import Lockout, retry_after


class AuthService:
    """Accounts, logins and the tokens' cut-offs; never commits (the caller's session does).

    Collaborators: the password hasher (made at start-up, `bootstrap.prepare_passwords`; None
    where no password is hashed or checked), the token store every service asks (logouts and
    per-user not-befores) and the per-login-name lock-out (None where nobody logs in).
    """

    def __init__(
        self,
        users: UserRepository,
        logouts: RevokedTokenRepository,
        settings: AuthSettings,
        *,
        tokens: RevocationStore,
        passwords: PasswordHasher | None = None,
        lockout: Lockout | None = None,
    ) -> None:
        self.users = users
        self.logouts = logouts
        self.settings = settings
        self.tokens = tokens
        self._passwords = passwords
        self._lockout = lockout

    @classmethod
    def from_context(cls, ctx: ServiceContext, session: AsyncSession) -> AuthService:
        return cls(
            UserRepository(session),
            RevokedTokenRepository(session),
            ctx.settings,
            tokens=ctx.runtime.revocations,
            passwords=ctx.state.get(PASSWORDS),
            lockout=ctx.runtime.lockout,
        )

    @property
    def passwords(self) -> PasswordHasher:
        if self._passwords is None:
            raise RuntimeError("the auth service was made without its password hasher")
        return self._passwords

    # Accounts

    async def _insert(self, user: User) -> User:
        """Insert a new account; the unique constraints (not a prior lookup) refuse duplicates."""
        try:
            return await self.users.add(user)
        except DuplicateValue as dup:
            if dup.field == "email":
                raise errors.EmailAlreadyRegistered()
            raise errors.UsernameTaken()

    async def register(self, data: RegisterRequest) -> User:
        """Create a customer account."""
        return await self._insert(
            User(
                email=data.email,
                username=data.username,
                password_hash=await self.passwords.hash(data.password),
                full_name=data.full_name,
                phone_number=data.phone_number,
                role="customer",
                is_active=True,
            )
        )

    async def create_user(self, data: UserCreate) -> User:
        """An account with any role (how staff accounts are made); duplicates refused as at
        sign-up."""
        return await self._insert(
            User(
                email=data.email,
                username=data.username or data.email,
                password_hash=await self.passwords.hash(data.password),
                full_name=data.full_name,
                phone_number=data.phone_number,
                role=data.role,
                is_active=True,
            )
        )

    async def find_by_login(self, login: str) -> User | None:
        """The account a login name means: an e-mail when it contains "@", else a username.

        Registration only lets a username contain "@" when it is its owner's e-mail, so the two
        lookups can never name different accounts.
        """
        login = login.strip()
        # No account can be named by text the database cannot even compare (NUL).
        if not login or "\x00" in login:
            return None
        if "@" in login:
            return await self.users.by_email(login)
        return await self.users.by_username(login)

    async def find_account(self, email: str) -> User | None:
        """The account with this e-mail, whatever its role."""
        return await self.users.by_email(email.strip().lower())

    async def user(self, user_id: uuid.UUID) -> User:
        """The account with this id; UserNotFound (404) when there is none."""
        user = await self.users.get(user_id)
        if user is None:
            raise errors.UserNotFound()
        return user

    async def list_users(
        self,
        *,
        limit: int,
        offset: int,
        role: Role | None = None,
        active: bool | None = None,
        search: str | None = None,
    ) -> Sequence[User]:
        return await self.users.list(
            limit=limit, offset=offset, role=role, active=active, search=search
        )

    async def update_profile(self, user: User, changes: ProfileUpdate) -> User:
        """Apply only the fields the caller sent (sending null clears a field)."""
        for field in changes.model_fields_set & {"full_name", "phone_number"}:
            setattr(user, field, getattr(changes, field))
        await self.users.flush()
        return user

    # Logins and tokens

    async def authenticate(self, login: str, password: str) -> User:
        """The account for these credentials; unknown user and wrong password fail alike."""
        user = await self.find_by_login(login)
        # With no user, the hasher checks a dummy hash: both failures take the same time.
        if not await self.passwords.verify(password, user.password_hash if user else None):
            raise errors.InvalidCredentials()
        assert user is not None
        if not user.is_active:
            raise errors.AccountDisabled()
        return user

    async def log_in(self, login: str, password: str) -> TokenResponse:
        """`authenticate`, at most so many attempts per login name in a while (finding 11.9),
        and a token for the account.

        The attempt is counted before the password is checked, so concurrent guesses cannot race
        past the limit; the count is per login name as typed (trimmed, case-folded), whether or not
        an account has it, so a lock-out says nothing about which accounts exist.
        """
        lockout = self._lockout
        assert lockout is not None  # the runtime always makes one
        name = login.strip().lower()
        wait = await lockout.attempt(name)
        if wait > 0:
            raise errors.TooManyLoginAttempts(retry_after(wait))
        user = await self.authenticate(login, password)
        await lockout.reset(name)
        return self.token_for(user)

    def token_for(self, user: User) -> TokenResponse:
        """Sign an access token for a user (design 5.1 claims plus `jti`)."""
        token, expires = issue_token(
            self.settings, user_id=user.id, email=user.email, role=user.role
        )
        expires_in = max(0, math.floor((expires - dt.datetime.now(dt.UTC)).total_seconds()))
        return TokenResponse(
            access_token=token, expires_in=expires_in, user=LoginUser.model_validate(user)
        )

    @staticmethod
    def claims_of(principal: Principal) -> TokenClaims:
        """The claims of a token that the core dependency has already verified."""
        claims = jwt.decode(principal.token, options={"verify_signature": False})
        return TokenClaims.model_validate(claims)

    async def current_account(self, principal: Principal) -> User:
        """The token's account; a token outliving its account (deleted or disabled) is refused."""
        user = await self.users.get(principal.user_id)
        if user is None or not user.is_active:
            raise errors.AccountUnavailable()
        # The auth service has the source of truth at hand: its own routes need not trust the
        # store.
        if is_stale(principal, user.tokens_valid_after_ms):
            raise NotAuthenticated(STALE_TOKEN)
        return user

    def token_lifetime_seconds(self) -> int:
        """How long a token issued now can live: how long a not-before must be remembered."""
        return self.settings.access_token_expire_minutes * 60 + 60

    async def cut_off_tokens(self, user: User) -> None:
        """Refuse, in every service, each token issued to this user until now (finding 11.3).

        Called before the request's commit: when the store cannot be written, the change is not
        made either (503), rather than made while the user's old tokens keep working elsewhere.
        """
        at_ms = math.floor(time.time() * 1000)
        user.tokens_valid_after_ms = at_ms
        await self.users.flush()
        try:
            await self.tokens.set_not_before(str(user.id), at_ms, self.token_lifetime_seconds())
        except Exception as exc:
            raise errors.TokensNotInvalidated() from exc

    async def change_password(self, user: User, change: PasswordChange) -> None:
        """Replace the password; every token issued before (this one too) stops working."""
        if not await self.passwords.verify(change.current_password, user.password_hash):
            raise errors.WrongCurrentPassword()
        if change.new_password == change.current_password:
            raise errors.PasswordUnchanged()
        user.password_hash = await self.passwords.hash(change.new_password)
        await self.cut_off_tokens(user)

    async def logout(self, principal: Principal) -> None:
        """Revoke this token until it would have expired anyway; every service then refuses it.

        The database keeps the logout too (committed with the request), so a Redis restart that
        loses the store's copy cannot bring the token back (`republish_cut_offs`).
        """
        await self.logouts.add(
            RevokedToken(
                jti=principal.jti, user_id=principal.user_id, expires_at=principal.expires_at
            )
        )
        remaining = (principal.expires_at - dt.datetime.now(dt.UTC)).total_seconds()
        try:
            await self.tokens.revoke(principal.jti, max(1, math.ceil(remaining)))
        except Exception as exc:
            raise ServiceUnavailable("Token revocation list unavailable") from exc

    async def republish_cut_offs(self) -> int:
        """Copy the live logouts and recent not-befores from the database to the store (after
        Redis lost them, or a wiped data dir); returns how many were copied. Expired logouts are
        deleted on the way: nothing can present their tokens any more."""
        lifetime = self.token_lifetime_seconds()
        now = dt.datetime.now(dt.UTC)
        now_ms = math.floor(now.timestamp() * 1000)
        recent = await self.users.changed_since(now_ms - lifetime * 1000)
        for user_id, at_ms in recent:
            remaining = lifetime - (now_ms - at_ms) // 1000
            await self.tokens.set_not_before(str(user_id), at_ms, max(1, remaining))
        await self.logouts.delete_expired(now)
        live = await self.logouts.unexpired(now)
        for jti, expires_at in live:
            await self.tokens.revoke(jti, max(1, math.ceil((expires_at - now).total_seconds())))
        return len(recent) + len(live)

    # Roles and status (admins, and the CLI)

    async def _keep_an_admin(self, user: User) -> None:
        """Refuse to take the last active admin's rights away (from themselves or by the CLI)."""
        if (
            user.role == "admin"
            and user.is_active
            and not await self.users.other_active_admins(user.id)
        ):
            raise errors.LastActiveAdmin()

    async def change_role(self, user_id: uuid.UUID, role: Role) -> User:
        """Give a user a role; their tokens carrying the old role stop working at once."""
        user = await self.user(user_id)
        if user.role == role:
            return user
        if role != "admin":
            await self._keep_an_admin(user)
        user.role = role
        await self.cut_off_tokens(user)
        return user

    async def deactivate(self, user: User) -> User:
        """Disable an account: it cannot log in, and its tokens stop working at once."""
        if not user.is_active:
            return user
        await self._keep_an_admin(user)
        user.is_active = False
        await self.cut_off_tokens(user)
        return user

    async def reactivate(self, user: User) -> User:
        """Let a disabled account log in again (its old tokens stay dead: they predate the cut)."""
        user.is_active = True
        await self.users.flush()
        return user

    async def ensure_admin(self, email: str, password_hash: str) -> User:
        """Create the configured admin, or make the existing account an active admin with this
        password. Raises DuplicateValue when another process created it first (retry then)."""
        email = email.strip().lower()
        user = await self.users.by_email(email)
        if user is None:
            return await self.users.add(
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
        await self.users.flush()
        return user
