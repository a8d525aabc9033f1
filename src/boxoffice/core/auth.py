"""Token issuing and verification (design 5.1 plus `jti`), CurrentUser and role dependencies.

Every service verifies tokens locally with the shared key and asks the revocation store
whether the token was logged out, or was issued before its account last changed (a password,
role or deactivation: the user's "not before"); nothing calls the auth service per request.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Literal

import jwt
import structlog
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import Counter

from boxoffice.core.errors import NotAuthenticated, PermissionDenied
from boxoffice.core.settings import CoreSettings

log = structlog.get_logger("boxoffice.auth")

REVOCATION_CHECK_FAILURES = Counter(
    "auth_revocation_check_failures_total",
    "Requests whose token could not be checked against the revocation list (Redis down)",
)

Role = Literal["customer", "staff", "admin"]
ROLES: tuple[Role, ...] = ("customer", "staff", "admin")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, as the verified token says."""

    user_id: uuid.UUID
    email: str
    role: Role
    jti: str
    expires_at: dt.datetime
    token: str
    # When the token was signed, in milliseconds: `iat` has whole seconds only, too coarse to
    # tell a token from just before an account change from a login just after it.
    issued_at_ms: int

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_staff(self) -> bool:
        return self.role in ("staff", "admin")

    def may_act_for(self, owner_id: uuid.UUID) -> bool:
        """Whether the caller may see or change what `owner_id` owns: its owner, or staff.

        Path-id dependencies use it to answer 404 (not 403) for anyone else's resource, so a
        stranger cannot even learn that the id exists."""
        return self.user_id == owner_id or self.is_staff


def issue_token(
    settings: CoreSettings,
    *,
    user_id: uuid.UUID,
    email: str,
    role: str,
    expires_in: dt.timedelta | None = None,
) -> tuple[str, dt.datetime]:
    """Sign an access token; returns it with its expiry."""
    now = dt.datetime.now(dt.UTC)
    expires = now + (expires_in or dt.timedelta(minutes=settings.access_token_expire_minutes))
    claims = {
        "sub": email,
        "user_id": str(user_id),
        "role": role,
        "iat": int(now.timestamp()),
        "iat_ms": math.floor(now.timestamp() * 1000),
        "exp": int(expires.timestamp()),
        "jti": uuid.uuid4().hex,
    }
    token = jwt.encode(claims, settings.signing_key, algorithm=settings.jwt_algorithm)
    return token, expires


# Tokens this process has verified, by the token and the key that verified it. A customer's
# token comes back with every request of a sale (hold, book, pay, the polls), and verifying
# its signature and claims again each time was 2-3 % of the booking and payment services'
# CPU in a flash sale (py-spy). A verified token stays valid until it expires, which is
# checked on every use; revocation is not a property of the token and is asked per request
# as before. Bounded: emptied when full (a rush's tokens are the ones coming back).
_VERIFIED: dict[tuple[str, str, str], Principal] = {}
_VERIFIED_MAX = 10_000


def decode_token(settings: CoreSettings, token: str) -> Principal:
    """Verify signature, expiry and shape; raise NotAuthenticated otherwise."""
    key = (token, settings.signing_key, settings.jwt_algorithm)
    known = _VERIFIED.get(key)
    if known is not None:
        # As PyJWT decides (no leeway): expired from the second `exp` names.
        if known.expires_at.timestamp() <= dt.datetime.now(dt.UTC).timestamp():
            raise NotAuthenticated("Token has expired")
        return known
    principal = _verify(settings, token)
    if len(_VERIFIED) >= _VERIFIED_MAX:
        _VERIFIED.clear()
    _VERIFIED[key] = principal
    return principal


def _verify(settings: CoreSettings, token: str) -> Principal:
    try:
        # Only the configured algorithm is accepted, which rules out `alg: none` and key confusion.
        claims = jwt.decode(
            token,
            settings.signing_key,
            algorithms=[settings.jwt_algorithm],
            options={"require": ["exp", "iat", "sub", "jti"]},
        )
    except jwt.ExpiredSignatureError:
        raise NotAuthenticated("Token has expired")
    except jwt.PyJWTError:
        raise NotAuthenticated("Invalid token")
    try:
        role = claims["role"]
        if role not in ROLES:
            raise ValueError(role)
        return Principal(
            user_id=uuid.UUID(str(claims["user_id"])),
            email=str(claims["sub"]),
            role=role,
            jti=str(claims["jti"]),
            expires_at=dt.datetime.fromtimestamp(int(claims["exp"]), dt.UTC),
            token=token,
            # A token from before `iat_ms` existed counts from the start of its second: an
            # account change in that same second then refuses it, never lets it through.
            issued_at_ms=int(claims.get("iat_ms", int(claims["iat"]) * 1000)),
        )
    except (KeyError, ValueError, TypeError):
        raise NotAuthenticated("Invalid token claims")


_bearer = HTTPBearer(auto_error=False, description="JWT from POST /api/auth/token")


async def _principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal | None:
    if credentials is None:
        return None
    runtime = request.app.state.runtime
    principal = decode_token(runtime.settings, credentials.credentials)
    try:
        # One look-up answers both questions (one round trip when Redis must be asked).
        revoked, not_before_ms = await runtime.revocations.check(
            principal.jti, str(principal.user_id)
        )
    except Exception as exc:
        # SPEC 4.7: with Redis down the cinema keeps selling. The price: a logged-out token, or
        # one issued before its account changed, stays usable until Redis is back (at most its
        # remaining lifetime, 30 min by default), so it is counted and logged for the operator.
        # Logout and account changes themselves refuse (503) meanwhile.
        REVOCATION_CHECK_FAILURES.inc()
        log.warning("revocation_check_unavailable", error=repr(exc), jti=principal.jti)
        revoked, not_before_ms = False, None
    if revoked:
        raise NotAuthenticated("Token has been revoked")
    if is_stale(principal, not_before_ms):
        raise NotAuthenticated(STALE_TOKEN)
    return principal


STALE_TOKEN = "Token was issued before the account changed; log in again"


def is_stale(principal: Principal, not_before_ms: int | None) -> bool:
    """Whether the token was issued before its account's last password, role or status change."""
    return not_before_ms is not None and principal.issued_at_ms < not_before_ms


async def _current_user(principal: Annotated[Principal | None, Depends(_principal)]) -> Principal:
    if principal is None:
        raise NotAuthenticated()
    return principal


CurrentUser = Annotated[Principal, Depends(_current_user)]
"""The verified caller; 401 without a valid, unrevoked token."""

OptionalUser = Annotated[Principal | None, Depends(_principal)]
"""The caller when a token is sent (and then it must be valid), else None."""


def require_role(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that lets only the given roles through (403 for the others)."""

    async def check(user: CurrentUser) -> Principal:
        if user.role not in roles:
            raise PermissionDenied(f"Requires role: {', '.join(roles)}")
        return user

    check.__name__ = f"require_{'_or_'.join(roles)}"
    return check


AdminUser = Annotated[Principal, Depends(require_role("admin"))]
StaffUser = Annotated[Principal, Depends(require_role("staff", "admin"))]
