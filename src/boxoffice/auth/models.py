"""The auth service's tables (design 3.2.1)."""

from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from boxoffice.core.db import UTCDateTime, new_metadata, utcnow


class Base(DeclarativeBase):
    metadata = new_metadata()


class User(Base):
    """A customer, staff member or admin.

    E-mail is stored lower-cased so its uniqueness is case-insensitive; usernames keep the case
    they were registered with but are unique regardless of case (an index on lower(username)),
    so "Alice" and "alice" can never be two accounts.
    """

    __tablename__ = "users"
    __table_args__ = (sa.CheckConstraint("role IN ('customer', 'staff', 'admin')", name="role"),)

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(sa.String(255), unique=True)
    username: Mapped[str] = mapped_column(sa.String(100))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    full_name: Mapped[str | None] = mapped_column(sa.String(255))
    phone_number: Mapped[str | None] = mapped_column(sa.String(20))
    role: Mapped[str] = mapped_column(sa.String(20), default="customer", server_default="customer")
    is_active: Mapped[bool] = mapped_column(sa.Boolean, default=True, server_default=sa.true())
    created_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime, default=utcnow, server_default=sa.text("CURRENT_TIMESTAMP")
    )
    updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, onupdate=utcnow)
    # The last password, role or status change, in ms since the epoch: tokens issued before it
    # are refused (the services learn it through the revocation store, which copies it).
    tokens_valid_after_ms: Mapped[int | None] = mapped_column(sa.BigInteger)


class RevokedToken(Base):
    """A logged-out token, kept until it would have expired anyway.

    The revocation store (Redis) is what every service reads; this table is the source of truth
    it is rebuilt from when Redis restarts without its data (see `auth.bootstrap`).
    """

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


USERNAME_INDEX = "uq_users_username_lower"
sa.Index(USERNAME_INDEX, sa.func.lower(User.username), unique=True)
