"""The payment service's tables: one row per charge attempt, with its idempotency key."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from boxoffice.core.db import Money, UTCDateTime, new_metadata, utcnow


class Base(DeclarativeBase):
    metadata = new_metadata()


PAYMENT_STATUSES = ("pending", "completed", "failed", "refunding", "refunded")
# A booking holds at most one payment in these states: one charge, whatever keys arrive.
# Failed attempts stay outside it, so a declined card can be retried with a new key.
CHARGED_STATUSES = ("pending", "completed", "refunding", "refunded")
PAYMENT_METHODS = ("credit_card", "bank_transfer", "e_wallet")
_charged_sql = "status IN ({})".format(", ".join(f"'{s}'" for s in CHARGED_STATUSES))


class Payment(Base):
    """One charge attempt for a booking (design 3.2.4) and, later, its refund."""

    __tablename__ = "payments"
    __table_args__ = (
        # The database decides idempotency: concurrent requests with one key collapse to one row.
        sa.UniqueConstraint("user_id", "idempotency_key", name="uq_payments_user_idempotency_key"),
        sa.Index(
            "uq_payments_one_charge_per_booking",
            "booking_id",
            unique=True,
            postgresql_where=sa.text(_charged_sql),
            sqlite_where=sa.text(_charged_sql),
        ),
        sa.Index("ix_payments_user_created", "user_id", "created_at"),
        sa.Index("ix_payments_status_updated", "status", "updated_at"),
        sa.CheckConstraint(
            "status IN ({})".format(", ".join(f"'{s}'" for s in PAYMENT_STATUSES)),
            name="status",
        ),
        sa.CheckConstraint("amount > 0", name="amount_positive"),
    )

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    booking_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    booking_code: Mapped[str | None] = mapped_column(sa.String(40))
    user_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    user_email: Mapped[str] = mapped_column(sa.String(320))
    amount: Mapped[Decimal] = mapped_column(Money)
    payment_method: Mapped[str] = mapped_column(sa.String(50))
    transaction_id: Mapped[str | None] = mapped_column(sa.String(255), unique=True)
    idempotency_key: Mapped[str] = mapped_column(sa.String(255))
    # sha256 of the canonical request body: same key with another body is refused (422).
    request_fingerprint: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(20), default="pending")
    failure_reason: Mapped[str | None] = mapped_column(sa.String(50))
    refund_reason: Mapped[str | None] = mapped_column(sa.String(50))
    refund_transaction_id: Mapped[str | None] = mapped_column(sa.String(255))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    payment_date: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    refunded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
