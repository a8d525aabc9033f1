"""The notification service's tables: notifications (design 3.1), dead letters of undeliverable
mail, and what the service has learnt about bookings from their events."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from boxoffice.core.db import UTCDateTime, new_metadata, utcnow


class Base(DeclarativeBase):
    metadata = new_metadata()


# Delivery status of a notification's e-mail; an in-app-only notice is `sent` when created.
PENDING = "pending"
SENT = "sent"
FAILED = "failed"
DELIVERY_STATUSES = (PENDING, SENT, FAILED)

# The two facts of one successful purchase; a customer sees them as one notice, the
# confirmation's once it has come.
PAID_PAIR = ("payment.completed", "booking.confirmed")
# A booking's purchase notice: the one notice of the pair's events, kept one per booking by the
# unique index below. A notice an admin writes (no event) is never one, whatever its type.
PAID_NOTICE = "type IN ('payment.completed', 'booking.confirmed') AND event_id IS NOT NULL"


class Notification(Base):
    """One notice to one user: shown in the app, and (when it has a recipient) e-mailed."""

    __tablename__ = "notifications"
    __table_args__ = (
        sa.Index("ix_notifications_user_id_created_at", "user_id", "created_at"),
        sa.Index("ix_notifications_status_next_attempt_at", "status", "next_attempt_at"),
        sa.Index(
            "uq_notifications_paid_notice_booking_id",
            "booking_id",
            unique=True,
            postgresql_where=sa.text(PAID_NOTICE),
            sqlite_where=sa.text(PAID_NOTICE),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    type: Mapped[str] = mapped_column(sa.String(50))
    subject: Mapped[str] = mapped_column(sa.String(200))
    message: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(16), default=PENDING)
    # Where the e-mail goes; None for an in-app-only notice.
    email: Mapped[str | None] = mapped_column(sa.String(320))
    booking_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    booking_code: Mapped[str | None] = mapped_column(sa.String(32))
    # The event this notice announces: a redelivered event finds it and creates nothing.
    event_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, unique=True)
    # What the e-mail templates render (movie, theater, seats, amounts...).
    context: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    # When the delivery loop may next try (or, while an attempt runs, when its claim lapses).
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    @property
    def read(self) -> bool:
        return self.read_at is not None


class MailDeadLetter(Base):
    """An e-mail given up on: retries ran out or the server refused it for good."""

    __tablename__ = "mail_dead_letters"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    notification_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("notifications.id", ondelete="CASCADE"), index=True
    )
    recipient: Mapped[str] = mapped_column(sa.String(320))
    attempts: Mapped[int] = mapped_column(sa.Integer)
    error: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class BookingDetails(Base):
    """A booking as its `booking.*` events described it, so notices about its payment (whose
    events carry only the code and amount) can name the movie, theater, time and seats."""

    __tablename__ = "booking_details"

    booking_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True)
    booking_code: Mapped[str | None] = mapped_column(sa.String(32))
    user_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    details: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
