"""The auth service's errors, named as facts."""

from boxoffice.core.errors import (
    Conflict,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServiceUnavailable,
    ValidationFailed,
)


class EmailAlreadyRegistered(Conflict):
    """An account with this e-mail address already exists."""

    default_detail = "An account with this email already exists"


class UsernameTaken(Conflict):
    """Another account already uses this username."""

    default_detail = "This username is already taken"


class InvalidCredentials(NotAuthenticated):
    """The username or password is wrong (which one is not said)."""

    default_detail = "Incorrect username or password"


class TooManyLoginAttempts(RateLimited):
    """This login name failed too often lately; it is locked for a while, right password or not."""

    default_detail = "Too many login attempts; try again later"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"Too many login attempts; try again in {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )


class AccountDisabled(PermissionDenied):
    """The account exists but has been deactivated."""

    default_detail = "This account is disabled"


class AccountUnavailable(NotAuthenticated):
    """The token is valid but its account no longer exists or is disabled."""

    default_detail = "The account of this token no longer exists or is disabled"


class WrongCurrentPassword(ValidationFailed):
    """The current password given is not the account's password."""

    default_detail = "Current password is incorrect"


class PasswordUnchanged(ValidationFailed):
    """The new password is the same as the current one."""

    default_detail = "New password must differ from the current password"


class UserNotFound(NotFound):
    """No user has this id."""

    default_detail = "User not found"


class LastActiveAdmin(Conflict):
    """The change would leave the cinema without an active admin."""

    default_detail = "This would leave no active admin; make another admin first"


class TokensNotInvalidated(ServiceUnavailable):
    """The account change could not reach the token store, so it was not made."""

    default_detail = (
        "The account was not changed: its tokens could not be invalidated now; try again"
    )
