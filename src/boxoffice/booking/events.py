"""The events booking publishes (docs/contracts.md): every `booking.*` event carries the
booking as its ticket shows it; some add a field or two.

Each is recorded with the service's EventRecorder in the transaction that makes the change
(the outbox), built from the booking once: `BookingCancelled.of(booking, refund_required=...)`.
Seats are plain typed dicts, not models: a booking's payload costs one validation, not one per
seat.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any, ClassVar, Literal, Self

from typing_extensions import TypedDict

from boxoffice.booking.models import Booking
from boxoffice.core.events import EventPayload


class BookedSeat(TypedDict):
    """One seat of the booking, as its events carry it."""

    seat_id: uuid.UUID
    seat_row: str
    seat_number: int
    seat_type: str
    price: Decimal


class BookingEvent(EventPayload):
    """The payload every `booking.*` event carries (its keys in this order on the wire)."""

    booking_id: uuid.UUID
    booking_code: str
    user_id: uuid.UUID
    user_email: str
    showtime_id: uuid.UUID
    movie_title: str
    theater_name: str
    city: str | None
    show_date: dt.date
    show_time: dt.time
    seats: list[BookedSeat]
    total_seats: int
    total_price: Decimal
    status: str
    payment_status: str
    expires_at: dt.datetime
    payment_id: uuid.UUID | None

    @classmethod
    def of(cls, booking: Booking, **extra: Any) -> Self:
        """The event about `booking` (its seats loaded), with the fields the event adds (or,
        as a rejected payment's `payment_id`, replaces)."""
        fields: dict[str, Any] = dict(
            booking_id=booking.id,
            booking_code=booking.booking_code,
            user_id=booking.user_id,
            user_email=booking.user_email,
            showtime_id=booking.showtime_id,
            movie_title=booking.movie_title,
            theater_name=booking.theater_name,
            city=booking.city,
            show_date=booking.show_date,
            show_time=booking.show_time,
            seats=[
                {
                    "seat_id": s.seat_id,
                    "seat_row": s.seat_row,
                    "seat_number": s.seat_number,
                    "seat_type": s.seat_type,
                    "price": s.price,
                }
                for s in booking.seats
            ],
            total_seats=booking.total_seats,
            total_price=booking.total_price,
            status=booking.status,
            payment_status=booking.payment_status,
            expires_at=booking.expires_at,
            payment_id=booking.payment_id,
        )
        return cls(**(fields | extra))


class BookingCreated(BookingEvent):
    """A booking is committed, pending its payment."""

    event_name: ClassVar[str] = "booking.created"


class BookingConfirmed(BookingEvent):
    """Its payment completed in time: the booking is confirmed and paid."""

    event_name: ClassVar[str] = "booking.confirmed"


class BookingCancelled(BookingEvent):
    """The owner cancelled (`requested`), or a refund undid the sale (`refunded`);
    `refund_required` when it was paid and the refund is still to be made."""

    event_name: ClassVar[str] = "booking.cancelled"

    refund_required: bool
    reason: Literal["requested", "refunded"]


class BookingExpired(BookingEvent):
    """Unpaid past its expiry: its seats are free again."""

    event_name: ClassVar[str] = "booking.expired"


class BookingPaymentRejected(BookingEvent):
    """A payment arrived for a booking that can no longer take it (payment refunds it);
    `payment_id` is that payment's."""

    event_name: ClassVar[str] = "booking.payment_rejected"

    payment_id: uuid.UUID
    reason: Literal["booking_expired", "booking_cancelled", "already_paid", "booking_unpayable"]
