"""The notification service's settings, on the shared base (boxoffice.settings joins all)."""

from __future__ import annotations

from pydantic import Field

from boxoffice.core.settings import CoreSettings


class NotificationSettings(CoreSettings):
    """The notification service's settings: where e-mail goes out (delivery pacing: config.py)."""

    smtp_url: str | None = Field(None, description="SMTP server, e.g. smtp://127.0.0.1:2525")
    mail_from: str = Field("boxoffice <tickets@boxoffice.local>", description="E-mail sender")
