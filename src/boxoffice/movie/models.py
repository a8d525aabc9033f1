"""The movie service's tables: movies, theaters, seats, showtimes and the booking ledger."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from boxoffice.core.db import Money, UTCDateTime, new_metadata, utcnow

SEAT_TYPES = ("standard", "vip")


class Base(DeclarativeBase):
    metadata = new_metadata()


class Movie(Base):
    """A film in the catalog (design 3.2.2); deactivated rather than deleted."""

    __tablename__ = "movies"
    __table_args__ = (sa.CheckConstraint("duration_minutes > 0", name="duration_positive"),)

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    title: Mapped[str] = mapped_column(sa.String(255))
    description: Mapped[str | None] = mapped_column(sa.Text)
    duration_minutes: Mapped[int] = mapped_column(sa.Integer)
    genre: Mapped[str | None] = mapped_column(sa.String(100))
    language: Mapped[str | None] = mapped_column(sa.String(50))
    rating: Mapped[str | None] = mapped_column(sa.String(10))
    release_date: Mapped[dt.date | None] = mapped_column(sa.Date)
    poster_url: Mapped[str | None] = mapped_column(sa.String(500))
    director: Mapped[str | None] = mapped_column(sa.String(255))
    is_active: Mapped[bool] = mapped_column(sa.Boolean, default=True, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Theater(Base):
    """A screening room with a fixed seat layout (rows × seats per row)."""

    __tablename__ = "theaters"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(sa.String(255))
    location: Mapped[str] = mapped_column(sa.String(500))
    city: Mapped[str] = mapped_column(sa.String(100), index=True)
    rows: Mapped[int] = mapped_column(sa.Integer)
    seats_per_row: Mapped[int] = mapped_column(sa.Integer)
    vip_rows: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    aisles_after: Mapped[list[int]] = mapped_column(sa.JSON, default=list)
    total_seats: Mapped[int] = mapped_column(sa.Integer)
    # IANA name; the theater's show times are wall-clock times in it (docs/showtimes.md).
    timezone: Mapped[str] = mapped_column(sa.String(64))
    # Deactivated rather than deleted: its showtimes and bookings still refer to it.
    is_active: Mapped[bool] = mapped_column(sa.Boolean, default=True, server_default=sa.true())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    seats: Mapped[list[Seat]] = relationship(lazy="raise", back_populates="theater")


class Seat(Base):
    """One seat of a theater; `aisle_after` says an aisle runs right after it in its row."""

    __tablename__ = "seats"
    __table_args__ = (
        sa.UniqueConstraint("theater_id", "seat_row", "seat_number"),
        sa.CheckConstraint("seat_type IN ('standard', 'vip')", name="seat_type"),
    )

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    theater_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("theaters.id", ondelete="CASCADE")
    )
    seat_row: Mapped[str] = mapped_column(sa.String(2))
    seat_number: Mapped[int] = mapped_column(sa.Integer)
    seat_type: Mapped[str] = mapped_column(sa.String(20), default="standard")
    aisle_after: Mapped[bool] = mapped_column(sa.Boolean, default=False)

    theater: Mapped[Theater] = relationship(lazy="raise", back_populates="seats")


class Showtime(Base):
    """One screening of a movie in a theater at a local date and time (and the instant that is)."""

    __tablename__ = "showtimes"
    __table_args__ = (
        sa.UniqueConstraint("theater_id", "show_date", "show_time"),
        sa.Index("ix_showtimes_show_date_show_time", "show_date", "show_time"),
        sa.CheckConstraint("price > 0", name="price_positive"),
    )

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    movie_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, sa.ForeignKey("movies.id"), index=True)
    theater_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, sa.ForeignKey("theaters.id"))
    show_date: Mapped[dt.date] = mapped_column(sa.Date)
    show_time: Mapped[dt.time] = mapped_column(sa.Time)
    # show_date + show_time in the theater's zone, as an instant: listings leave out what has
    # started with one indexed comparison, whatever zone each theater is in.
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    price: Mapped[Decimal] = mapped_column(Money)
    total_seats: Mapped[int] = mapped_column(sa.Integer)
    enforce_seat_rules: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    # Deactivated rather than deleted: listings leave it out and booking sells no more seats
    # of it, while its bookings keep what they refer to.
    is_active: Mapped[bool] = mapped_column(sa.Boolean, default=True, server_default=sa.true())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ShowtimeBooking(Base):
    """What the booking events said about one booking: its seat count and whether it still
    holds them. A showtime's free seats are its capacity less the sum of these rows, read when
    asked: duplicated or reordered events cannot drift the count, and bookings of one showtime
    never wait on one row."""

    __tablename__ = "showtime_bookings"

    booking_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True)
    showtime_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, index=True)
    seats: Mapped[int] = mapped_column(sa.Integer)
    released: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
