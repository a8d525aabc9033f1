"""The auth service's settings, on the shared base (boxoffice.settings joins every service's)."""

from __future__ import annotations

from pydantic import Field

from boxoffice.core.settings import CoreSettings


class AuthSettings(CoreSettings):
    """The auth service's settings: the password hash's cost and the admin made at start."""

    bcrypt_rounds: int = Field(12, ge=4, le=16, description="bcrypt cost factor")
    admin_email: str | None = Field(
        None, alias="BOXOFFICE_ADMIN_EMAIL", description="Admin created or updated at start"
    )
    admin_password: str | None = Field(
        None, alias="BOXOFFICE_ADMIN_PASSWORD", description="That admin's password"
    )
