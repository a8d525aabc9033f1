"""Every setting of every service in one object: what a process reads from its environment.

Each service declares its own settings on the shared base (`<service>/settings.py` on
`boxoffice.core.settings.CoreSettings`) and reads only those; this class joins them for the
places that run several services or all of them: the embedded process, the CLI, the tests.
A distributed service process reads the same joined settings, so one `.env` serves all five.
"""

from __future__ import annotations

from functools import lru_cache

from boxoffice.auth.settings import AuthSettings
from boxoffice.booking.settings import BookingSettings
from boxoffice.core.settings import money, parse_rate
from boxoffice.movie.settings import MovieSettings
from boxoffice.notification.settings import NotificationSettings
from boxoffice.payment.settings import PaymentSettings

__all__ = ["Settings", "get_settings", "money", "parse_rate"]


class Settings(AuthSettings, MovieSettings, BookingSettings, PaymentSettings, NotificationSettings):
    """Every boxoffice setting; env var names are the field names in upper case."""


@lru_cache
def get_settings() -> Settings:
    return Settings()  # type: ignore[call-arg]
