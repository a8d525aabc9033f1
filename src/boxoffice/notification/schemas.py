"""Request and response bodies of the notification service."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

# Deliberately lenient: the auth service decides what an account's address is; this only stops
# what could never be delivered (or would inject SMTP headers).
_ADDRESS = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")


def _address(value: str) -> str:
    value = value.strip()
    if not _ADDRESS.match(value):
        raise ValueError("not an e-mail address")
    return value


EmailAddress = Annotated[str, Field(max_length=320), AfterValidator(_address)]


class SendRequest(BaseModel):
    """`POST /send`: a notice to one user, e-mailed when an address is given."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    user_id: uuid.UUID
    email: EmailAddress | None = None
    type: str = Field("general", pattern=r"^[a-z][a-z0-9_.-]{0,49}$")
    subject: str = Field(min_length=1, max_length=200)
    message: str = Field(min_length=1, max_length=10_000)
    booking_id: uuid.UUID | None = None
    booking_code: str | None = Field(None, min_length=1, max_length=32)


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
