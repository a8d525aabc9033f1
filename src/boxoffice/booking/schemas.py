"""Request and response bodies of the booking service (design 4.3 plus SPEC 3's additions)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, Field, PlainSerializer, field_validator

from boxoffice.booking.models import Booking

# Amounts leave as JSON numbers, as in the design's example (`"total_price": 240000.0`).
MoneyOut = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]

# A hard ceiling on any seat list, whatever the configured per-booking cap says.
MAX_SEATS_IN_REQUEST = 100


class SeatSelection(BaseModel):
    """Some seats of one showtime."""

    showtime_id: uuid.UUID
    seat_ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_SEATS_IN_REQUEST)

    @field_validator("seat_ids")
    @classmethod
    def _distinct(cls, seat_ids: list[uuid.UUID]) -> list[uuid.UUID]:
        if len(set(seat_ids)) != len(seat_ids):
            raise ValueError("the same seat is listed more than once")
        return seat_ids


class BestHold(BaseModel):
    """Hold the best `count` adjacent free seats of a showtime, whichever they are."""

    showtime_id: uuid.UUID
    count: int = Field(ge=1, le=MAX_SEATS_IN_REQUEST)


class HoldOut(BaseModel):
    """Seats now held for the caller (until `expires_at`)."""

    showtime_id: uuid.UUID
    seat_ids: list[uuid.UUID]
    # False only while the hold store is unreachable: nothing could be reserved ahead, and
    # the booking database alone will decide when the caller books.
    held: bool
    expires_at: dt.datetime | None
    hold_ttl_seconds: int


class ReleaseOut(BaseModel):
    """The seats whose hold by the caller was released."""

    showtime_id: uuid.UUID
    released: list[uuid.UUID]


class BookingSeatOut(BaseModel):
    seat_id: uuid.UUID
    seat_row: str
    seat_number: int
    seat_type: str
    price: MoneyOut


class BookingOut(BaseModel):
    """A booking as the design shows it, plus its seats and what the ticket shows."""

    id: uuid.UUID
    user_id: uuid.UUID
    booking_code: str
    showtime_id: uuid.UUID
    total_seats: int
    total_price: MoneyOut
    status: Literal["pending", "confirmed", "cancelled", "expired"]
    payment_status: Literal["unpaid", "paid", "refunded"]
    expires_at: dt.datetime
    seat_ids: list[uuid.UUID]
    seats: list[BookingSeatOut]
    movie_id: uuid.UUID | None
    movie_title: str
    theater_id: uuid.UUID
    theater_name: str
    city: str | None
    show_date: dt.date
    show_time: dt.time
    show_starts_at: dt.datetime = Field(
        description="When the show starts (UTC): show_date/show_time in the theater's zone; "
        "from then on the booking can be neither paid nor refunded"
    )
    payment_id: uuid.UUID | None
    created_at: dt.datetime
    confirmed_at: dt.datetime | None
    cancelled_at: dt.datetime | None
    checked_in_at: dt.datetime | None

    @classmethod
    def of(cls, booking: Booking, now: dt.datetime) -> BookingOut:
        seats = [
            BookingSeatOut(
                seat_id=s.seat_id,
                seat_row=s.seat_row,
                seat_number=s.seat_number,
                seat_type=s.seat_type,
                price=s.price,
            )
            for s in booking.seats
        ]
        return cls(
            id=booking.id,
            user_id=booking.user_id,
            booking_code=booking.booking_code,
            showtime_id=booking.showtime_id,
            total_seats=booking.total_seats,
            total_price=booking.total_price,
            status=booking.effective_status(now),  # type: ignore[arg-type]
            payment_status=booking.payment_status,  # type: ignore[arg-type]
            expires_at=booking.expires_at,
            seat_ids=[s.seat_id for s in seats],
            seats=seats,
            movie_id=booking.movie_id,
            movie_title=booking.movie_title,
            theater_id=booking.theater_id,
            theater_name=booking.theater_name,
            city=booking.city,
            show_date=booking.show_date,
            show_time=booking.show_time,
            show_starts_at=booking.show_starts_at,
            payment_id=booking.payment_id,
            created_at=booking.created_at,
            confirmed_at=booking.confirmed_at,
            cancelled_at=booking.cancelled_at,
            checked_in_at=booking.checked_in_at,
        )


SeatState = Literal["available", "held", "booked", "mine"]


class SeatStatusOut(BaseModel):
    """The seats of a showtime that are not free (docs/contracts.md); free seats are omitted.

    With `?since=VERSION` and `full` false: only the seats that changed after that version,
    freed ones as `available`. `full` true means every non-free seat is listed (the version
    asked about was too old to answer with changes).
    """

    showtime_id: uuid.UUID
    version: int = Field(description="Pass it back as `since` to get only what changed")
    full: bool = True
    seats: dict[str, SeatState]


class SuggestedSeat(BaseModel):
    id: uuid.UUID
    seat_row: str
    seat_number: int
    seat_type: str
    aisle_after: bool


class BestSeatsOut(BaseModel):
    """The best block of adjacent free seats; empty when no block is large enough."""

    showtime_id: uuid.UUID
    count: int
    seat_ids: list[uuid.UUID]
    seats: list[SuggestedSeat]


class CheckInRequest(BaseModel):
    # Letters and digits only: anything else (a NUL byte included) is a 400, never a query.
    booking_code: Annotated[str, Field(pattern=r"^\s*[A-Za-z0-9]{1,20}\s*$")]

    @field_validator("booking_code")
    @classmethod
    def _normalise(cls, code: str) -> str:
        return code.strip().upper()


class RefundApprovalRequest(BaseModel):
    """The payment service asks whether a customer's refund of this payment may go ahead."""

    payment_id: uuid.UUID


class RefundApprovalOut(BaseModel):
    """Yes (a refusal is a 409): and whether a ticket was at stake, now marked unusable."""

    booking_id: uuid.UUID
    payment_id: uuid.UUID
    approved: bool = True
    ticket_withdrawn: bool


class SeatTypeSalesOut(BaseModel):
    seat_type: str
    seats: int
    revenue: MoneyOut


class ShowtimeSalesOut(BaseModel):
    """What a showtime has sold (admin). `sold`: seats of confirmed, paid bookings (checked-in
    ones included; refunded, cancelled and expired ones not); `held`: seats of pending
    bookings awaiting payment, not yet expired; revenue: what the sold seats were paid."""

    showtime_id: uuid.UUID
    capacity: int | None = Field(description="The showtime's seats, when the catalog says")
    sold: int
    held: int
    occupancy: float | None = Field(description="sold / capacity, 0–1 (None without capacity)")
    revenue_by_seat_type: list[SeatTypeSalesOut]
    revenue_total: MoneyOut


class DailySalesOut(BaseModel):
    """One day of sales (admin): the confirmed, paid bookings whose payment came that day."""

    date: dt.date
    bookings: int
    seats: int
    revenue: MoneyOut
