"""The booking service's settings, on the shared base (boxoffice.settings joins every service's)."""

from __future__ import annotations

from pydantic import Field, field_validator

from boxoffice.core.localtime import check_time_zone
from boxoffice.core.settings import CoreSettings


class BookingSettings(CoreSettings):
    """The booking service's settings: holds, unpaid bookings and the fair share of seats."""

    seat_hold_ttl_seconds: int = Field(600, ge=1, description="How long a seat hold lasts")
    booking_expiry_seconds: int = Field(900, ge=1, description="How long a booking may stay unpaid")
    max_seats_per_booking: int = Field(10, ge=1, le=100, description="Seats one booking may take")
    max_unpaid_seats_per_showtime: int = Field(
        10,
        ge=1,
        description="Seats one customer may hold and keep unpaid (pending bookings) for one "
        "showtime (docs/fair-share.md)",
    )
    max_unpaid_seats_in_all: int = Field(
        20,
        ge=1,
        description="Seats one customer may keep unpaid across all showtimes (docs/fair-share.md)",
    )
    theater_timezone: str = Field(
        "Asia/Ho_Chi_Minh",
        description="IANA time zone of a new theater when none is given (its show times are "
        "local wall-clock times there; docs/showtimes.md)",
    )

    @field_validator("theater_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return check_time_zone(value)
