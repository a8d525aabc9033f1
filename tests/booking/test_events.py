"""The `booking.*` payloads on the wire (docs/contracts.md): the keys every event carries, in
order, what some add, and ids, amounts and times as strings."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from pydantic import ValidationError

from boxoffice.booking.events import (
    BookingCancelled,
    BookingConfirmed,
    BookingCreated,
    BookingExpired,
    BookingPaymentRejected,
)
from boxoffice.booking.models import Booking, BookingSeat

KEYS = [
    "booking_id",
    "booking_code",
    "user_id",
    "user_email",
    "showtime_id",
    "movie_title",
    "theater_name",
    "city",
    "show_date",
    "show_time",
    "seats",
    "total_seats",
    "total_price",
    "status",
    "payment_status",
    "expires_at",
    "payment_id",
]


def a_booking() -> Booking:
    booking_id, showtime_id = uuid.uuid4(), uuid.uuid4()
    seats = [
        BookingSeat(
            id=uuid.uuid4(),
            booking_id=booking_id,
            showtime_id=showtime_id,
            seat_id=uuid.uuid4(),
            status="pending",
            position=n,
            seat_row="B",
            seat_number=n + 2,
            seat_type=kind,
            price=price,
        )
        for n, (kind, price) in enumerate(
            [("standard", Decimal("120000.00")), ("vip", Decimal("180000.50"))]
        )
    ]
    return Booking(
        id=booking_id,
        user_id=uuid.uuid4(),
        user_email="alice@cinema.example",
        showtime_id=showtime_id,
        booking_code="BK23456789",
        total_seats=2,
        total_price=Decimal("300000.50"),
        status="pending",
        payment_status="unpaid",
        expires_at=dt.datetime(2026, 3, 1, 12, 15, tzinfo=dt.UTC),
        movie_title="Dune: Part Two",
        theater_name="Hall 1",
        city=None,
        show_date=dt.date(2026, 3, 2),
        show_time=dt.time(19, 30),
        payment_id=None,
        seats=seats,
    )


def test_every_booking_event_carries_the_booking_as_its_ticket_shows_it():
    booking = a_booking()
    for event in (BookingCreated, BookingConfirmed, BookingExpired):
        payload = event.of(booking).to_payload()
        assert list(payload) == KEYS
    payload = BookingCreated.of(booking).to_payload()
    assert payload["booking_id"] == str(booking.id) and payload["payment_id"] is None
    assert payload["total_price"] == "300000.50" and payload["total_seats"] == 2
    assert (payload["show_date"], payload["show_time"]) == ("2026-03-02", "19:30:00")
    assert payload["expires_at"] == "2026-03-01T12:15:00+00:00"
    assert payload["seats"] == [
        {
            "seat_id": str(s.seat_id),
            "seat_row": "B",
            "seat_number": s.seat_number,
            "seat_type": s.seat_type,
            "price": str(s.price),
        }
        for s in booking.seats
    ]


def test_cancelled_and_payment_rejected_add_their_fields():
    booking, payment_id = a_booking(), uuid.uuid4()
    cancelled = BookingCancelled.of(booking, refund_required=True, reason="requested")
    assert list(cancelled.to_payload()) == [*KEYS, "refund_required", "reason"]
    assert cancelled.event_name == "booking.cancelled"
    rejected = BookingPaymentRejected.of(booking, payment_id=payment_id, reason="already_paid")
    payload = rejected.to_payload()
    # The rejected payment's id stands where the booking's own payment id stands.
    assert list(payload) == [*KEYS, "reason"]
    assert payload["payment_id"] == str(payment_id) and payload["reason"] == "already_paid"
    with pytest.raises(ValidationError):
        BookingCancelled.of(booking, refund_required=False, reason="because")
