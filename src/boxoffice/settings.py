"""Every setting of every service in one object: what a process reads from its environment.

Each service declares its own settings on the shared base (`<service>/settings.py` on
`boxoffice.core.settings.CoreSettings`) and reads only those; this class joins them for the
places that run several services or all of them: the embedded process, the CLI, the tests.
A distributed service process reads the same joined settings, so one `.env` serves all five.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import ClassVar

from pydantic import Field

from boxoffice.auth.settings import AuthSettings
from boxoffice.booking.settings import BookingSettings
from boxoffice.core.settings import money, parse_rate
from boxoffice.movie.settings import MovieSettings
from boxoffice.notification.settings import NotificationSettings
from boxoffice.payment.settings import PaymentSettings
from boxoffice.topology import DATABASE_NAMES

__all__ = ["Settings", "get_settings", "money", "parse_rate"]


class Settings(AuthSettings, MovieSettings, BookingSettings, PaymentSettings, NotificationSettings):
    """Every boxoffice setting; env var names are the field names in upper case.

    Besides the services' own, the settings of the composition: the services' databases and
    base URLs (which core looks up by service name) and the gateway's stricter limit."""

    database_names: ClassVar[Mapping[str, str]] = DATABASE_NAMES

    rate_limit_booking: str = Field("10/minute", description="Limit for book, cancel and pay")
    # Base URLs of the services, for calls between them in distributed mode.
    auth_service_url: str = Field("http://127.0.0.1:8001", description="Auth service base URL")
    movie_service_url: str = Field("http://127.0.0.1:8002", description="Movie service base URL")
    booking_service_url: str = Field("http://127.0.0.1:8003", description="Booking base URL")
    payment_service_url: str = Field("http://127.0.0.1:8004", description="Payment base URL")
    notification_service_url: str = Field(
        "http://127.0.0.1:8005", description="Notification service base URL"
    )


@lru_cache
def get_settings() -> Settings:
    return Settings()  # type: ignore[call-arg]
