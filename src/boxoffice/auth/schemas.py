"""Request and response bodies of the auth service (design 4.1)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal, Self

import email_validator
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from boxoffice.auth.passwords import MAX_PASSWORD_BYTES, is_common
from boxoffice.core.auth import Role


def _storable(value: str) -> str:
    """Refuse text a database cannot store: NUL (PostgreSQL) or lone surrogates (not UTF-8)."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


def normalize_email(value: str) -> str:
    """A valid address, lower-cased as stored; ValueError otherwise."""
    try:
        # No DNS lookups; `.test` addresses are allowed so test and demo accounts can exist.
        checked = email_validator.validate_email(
            _storable(value.strip()), check_deliverability=False, test_environment=True
        )
    except email_validator.EmailNotValidError as exc:
        raise ValueError(f"not a valid email address: {exc}") from None
    email = checked.normalized.lower()
    if len(email) > 255:  # lower-casing can lengthen text (e.g. "İ")
        raise ValueError("must be at most 255 characters")
    return email


def _password(value: str) -> str:
    _storable(value)
    if len(value.encode("utf-8")) > MAX_PASSWORD_BYTES:
        raise ValueError(f"must be at most {MAX_PASSWORD_BYTES} bytes")
    if is_common(value):
        raise ValueError("is one of the most common passwords; choose a less guessable one")
    return value


def _optional_text(value: str | None) -> str | None:
    if value is None:
        return None
    value = _storable(value).strip()
    return value or None


Email = Annotated[
    str,
    Field(max_length=255, json_schema_extra={"format": "email"}, examples=["user@example.com"]),
    AfterValidator(normalize_email),
]
Username = Annotated[
    str,
    Field(
        min_length=3,
        max_length=100,
        pattern=r"^[A-Za-z0-9_.@+-]+$",
        description="Letters, digits and _ . @ + -; may contain @ only when it is your e-mail",
        examples=["moviefan"],
    ),
]
Password = Annotated[
    str,
    Field(
        min_length=6,
        max_length=MAX_PASSWORD_BYTES,
        description="6 characters to 72 bytes, not one of the most common passwords",
    ),
    AfterValidator(_password),
]
FullName = Annotated[str | None, Field(max_length=255), AfterValidator(_optional_text)]


def _search_text(value: str | None) -> str | None:
    # Kept as sent (not blanked to None): the query's own max_length check runs after this.
    return None if value is None else _storable(value)


SearchText = Annotated[str | None, AfterValidator(_search_text)]
PhoneNumber = Annotated[
    str | None,
    Field(max_length=20, pattern=r"^\+?[0-9][0-9 ().-]{2,19}$", examples=["+84 912 345 678"]),
]


class RegisterRequest(BaseModel):
    """A new customer account."""

    email: Email
    username: Username
    password: Password
    full_name: FullName = None
    phone_number: PhoneNumber = None

    @model_validator(mode="after")
    def _username_is_not_someone_elses_email(self) -> Self:
        # A login name containing "@" is looked up as an e-mail; allowing other addresses as
        # usernames would let one account shadow another's e-mail at login.
        if "@" in self.username and self.username.lower() != self.email:
            raise ValueError("username may contain '@' only when it is your own email address")
        return self


class UserCreate(BaseModel):
    """An account an admin makes, with its role (staff accounts are made this way)."""

    email: Email
    username: Annotated[Username | None, Field(description="Defaults to the e-mail")] = None
    password: Password
    full_name: FullName = None
    phone_number: PhoneNumber = None
    role: Role = "customer"

    @model_validator(mode="after")
    def _username_is_not_someone_elses_email(self) -> Self:
        if self.username and "@" in self.username and self.username.lower() != self.email:
            raise ValueError("username may contain '@' only when it is your own email address")
        return self


class LoginUser(BaseModel):
    """The `user` object of the login response (design 4.1)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    username: str
    full_name: str | None
    role: Role
    is_active: bool


class UserOut(LoginUser):
    """An account as its owner or an admin sees it; never any password field."""

    phone_number: str | None
    created_at: dt.datetime
    updated_at: dt.datetime | None


class TokenResponse(BaseModel):
    """A successful login."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the token expires")
    user: LoginUser


class TokenClaims(BaseModel):
    """The claims of a verified token (design 5.1 plus `jti`)."""

    sub: str
    user_id: uuid.UUID
    role: Role
    iat: int
    iat_ms: int | None = Field(default=None, description="Issue time in milliseconds")
    exp: int
    jti: str


class VerifyResponse(UserOut):
    """A valid token: its account's fields at the top level (as clients written to the design
    read them), the same account under `user` (this API's earlier shape), and its claims."""

    valid: Literal[True] = True
    user: UserOut
    claims: TokenClaims

    @classmethod
    def of(cls, user: UserOut, claims: TokenClaims) -> VerifyResponse:
        return cls(**user.model_dump(), user=user, claims=claims)


class ProfileUpdate(BaseModel):
    """Fields a user may change on their own profile; fields left out stay as they are."""

    full_name: FullName = None
    phone_number: PhoneNumber = None


class PasswordChange(BaseModel):
    """The current password (to prove it is you) and the new one."""

    current_password: str = Field(min_length=1, max_length=1024)
    new_password: Password


class RoleChange(BaseModel):
    """The role an admin gives a user."""

    role: Role


class Message(BaseModel):
    """A plain confirmation."""

    message: str
