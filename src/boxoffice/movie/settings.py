"""The movie service's settings, on the shared base (boxoffice.settings joins every service's)."""

from __future__ import annotations

from pydantic import Field, field_validator

from boxoffice.core.localtime import check_time_zone
from boxoffice.core.settings import CoreSettings


class MovieSettings(CoreSettings):
    """The movie service's settings: the time zone of a theater that names none."""

    theater_timezone: str = Field(
        "Asia/Ho_Chi_Minh",
        description="IANA time zone of a new theater when none is given (its show times are "
        "local wall-clock times there; docs/showtimes.md)",
    )

    @field_validator("theater_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return check_time_zone(value)
