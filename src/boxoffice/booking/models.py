"""The booking service's tables: bookings (design 3.2.3) and their seats.

A booking stores what its ticket shows (movie, theater, date and time, seats and prices), copied
from the movie service when it is made, so reading a booking never calls another service.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from boxoffice.core.db import Money, UTCDateTime, new_metadata, utcnow


class Base(DeclarativeBase):
    metadata = new_metadata()


PENDING = "pending"
CONFIRMED = "confirmed"
CANCELLED = "cancelled"
EXPIRED = "expired"
BOOKING_STATUSES = (PENDING, CONFIRMED, CANCELLED, EXPIRED)
# A seat of a booking in one of these states is sold (or being sold): nobody else may take it.
LIVE_STATUSES = (PENDING, CONFIRMED)

UNPAID = "unpaid"
PAID = "paid"
REFUNDED = "refunded"
PAYMENT_STATUSES = (UNPAID, PAID, REFUNDED)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Booking(Base):
    """One customer's purchase of seats for one showtime."""

    __tablename__ = "bookings"
    __table_args__ = (
        sa.CheckConstraint(_in("status", BOOKING_STATUSES), name="status"),
        sa.CheckConstraint(_in("payment_status", PAYMENT_STATUSES), name="payment_status"),
        sa.CheckConstraint("total_seats > 0", name="total_seats_positive"),
        sa.Index("ix_bookings_user_id_created_at", "user_id", "created_at"),
        # The sweeper's query: pending bookings by expiry.
        sa.Index("ix_bookings_status_expires_at", "status", "expires_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    user_email: Mapped[str] = mapped_column(sa.String(320))
    showtime_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, index=True)
    booking_code: Mapped[str] = mapped_column(sa.String(20), unique=True)
    total_seats: Mapped[int] = mapped_column(sa.Integer)
    total_price: Mapped[Decimal] = mapped_column(Money)
    status: Mapped[str] = mapped_column(sa.String(20), default=PENDING)
    payment_status: Mapped[str] = mapped_column(sa.String(20), default=UNPAID)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # What the ticket shows, copied from the movie service at booking time.
    movie_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    movie_title: Mapped[str] = mapped_column(sa.String(255))
    theater_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    theater_name: Mapped[str] = mapped_column(sa.String(255))
    city: Mapped[str | None] = mapped_column(sa.String(100))
    show_date: Mapped[dt.date] = mapped_column(sa.Date)
    show_time: Mapped[dt.time] = mapped_column(sa.Time)
    # When the show starts (show_date + show_time in the theater's zone, as the movie service
    # said): no hold, booking, payment or customer refund from then on (docs/showtimes.md).
    show_starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # The payment that paid (or, refunded, last paid) this booking.
    payment_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    checked_in_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # When the booking service let a customer's refund through (refund_policy.py): from then on
    # the ticket cannot be checked in, so money back and a used ticket never meet.
    refund_approved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    seats: Mapped[list[BookingSeat]] = relationship(
        lazy="raise", back_populates="booking", order_by="BookingSeat.position"
    )

    def effective_status(self, now: dt.datetime) -> str:
        """The status a reader sees: a pending booking past its expiry already reads expired."""
        if self.status == PENDING and self.expires_at <= now:
            return EXPIRED
        return self.status


class BookingSeat(Base):
    """One seat of a booking; live (pending/confirmed) rows are unique per showtime and seat."""

    __tablename__ = "booking_seats"
    __table_args__ = (
        sa.CheckConstraint(_in("status", BOOKING_STATUSES), name="status"),
        # The final guard against a double sale (SPEC 4.1): whatever Redis says, the database
        # refuses a second live row for the same seat of the same showtime. Partial, so that
        # cancelled and expired seats can be sold again. Works on PostgreSQL and SQLite.
        sa.Index(
            "uq_booking_seats_live_seat",
            "showtime_id",
            "seat_id",
            unique=True,
            postgresql_where=sa.text(_in("status", LIVE_STATUSES)),
            sqlite_where=sa.text(_in("status", LIVE_STATUSES)),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    booking_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("bookings.id", ondelete="CASCADE"), index=True
    )
    showtime_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    seat_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    status: Mapped[str] = mapped_column(sa.String(20), default=PENDING)
    # Order of the seat in the booking, so tickets list seats the way they were chosen.
    position: Mapped[int] = mapped_column(sa.Integer, default=0)
    seat_row: Mapped[str] = mapped_column(sa.String(4))
    seat_number: Mapped[int] = mapped_column(sa.Integer)
    seat_type: Mapped[str] = mapped_column(sa.String(20))
    price: Mapped[Decimal] = mapped_column(Money)

    booking: Mapped[Booking] = relationship(lazy="raise", back_populates="seats")
