"""Request and response bodies of the notification service."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

# Deliberately lenient: the auth service decides what an account's address is; this only stops
# what could never be delivered (or would inject SMTP headers).
_NOT_IN_ADDRESS = r"[^@\s<>,;\"\x00-\x1f\x7f\ud800-\udfff]"
_ADDRESS = re.compile(rf"^{_NOT_IN_ADDRESS}+@{_NOT_IN_ADDRESS}+\.{_NOT_IN_ADDRESS}+$")


def valid_address(value: object) -> str | None:
    """The address if it is one a mail server could take, else None."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value if len(value) <= 320 and _ADDRESS.match(value) else None


def _address(value: str) -> str:
    address = valid_address(value)
    if address is None:
        raise ValueError("not an e-mail address")
    return address


EmailAddress = Annotated[str, Field(max_length=320), AfterValidator(_address)]

# Control characters break storage (PostgreSQL refuses NUL) and e-mail headers (CR/LF would
# inject headers); a message body may still have line breaks and tabs.
_CONTROL = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
_CONTROL_BUT_LINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def _one_line(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters or line breaks")
    return value


def _text(value: str) -> str:
    if _CONTROL_BUT_LINES.search(value):
        raise ValueError("must not contain control characters")
    return value


OneLine = Annotated[str, AfterValidator(_one_line)]
Text = Annotated[str, AfterValidator(_text)]


class SendRequest(BaseModel):
    """`POST /send`: a notice to one user, e-mailed when an address is given."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    user_id: uuid.UUID
    email: EmailAddress | None = None
    type: str = Field("general", pattern=r"^[a-z][a-z0-9_.-]{0,49}$")
    subject: OneLine = Field(min_length=1, max_length=200)
    message: Text = Field(min_length=1, max_length=10_000)
    booking_id: uuid.UUID | None = None
    booking_code: OneLine | None = Field(None, min_length=1, max_length=32)


class NotificationOut(BaseModel):
    """A notice as its recipient sees it; `status` is the e-mail's delivery status."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    user_id: uuid.UUID
    type: str
    subject: str
    message: str
    status: Literal["pending", "sent", "failed"]
    read: bool
    read_at: dt.datetime | None
    created_at: dt.datetime
    sent_at: dt.datetime | None
    booking_id: uuid.UUID | None
    booking_code: str | None


class UnreadCount(BaseModel):
    """How many of the caller's notices are unread."""

    unread: int


class MarkedRead(BaseModel):
    """How many notices one `read-all` marked."""

    marked: int
