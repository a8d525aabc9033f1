"""The notification service's own settings: how hard it tries to deliver an e-mail.

Read from `NOTIFICATION_*` environment variables; the SMTP server itself is the shared
`SMTP_URL` (and the sender `MAIL_FROM`) of boxoffice.core.settings.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class MailSettings(BaseSettings):
    """E-mail delivery: attempts, backoff and pacing of the delivery loop."""

    model_config = SettingsConfigDict(env_prefix="NOTIFICATION_", extra="ignore")

    max_attempts: int = Field(10, ge=1, le=100, description="Tries before an e-mail is dead")
    retry_base_seconds: float = Field(2.0, gt=0, description="First retry delay (then doubles)")
    retry_max_seconds: float = Field(600.0, gt=0, description="Longest delay between retries")
    poll_seconds: float = Field(1.0, gt=0, description="How often the loop looks for due mail")
    smtp_timeout_seconds: float = Field(15.0, gt=0, description="Timeout of one SMTP exchange")
    batch_size: int = Field(20, ge=1, le=500, description="E-mails claimed per pass")

    def backoff(self, attempts: int) -> float:
        """Seconds to wait after the `attempts`-th failed try (design 6.5: base * 2^n)."""
        delay = self.retry_base_seconds * 2 ** max(attempts - 1, 0)
        return float(min(delay, self.retry_max_seconds))

    @property
    def claim_seconds(self) -> float:
        """How long one attempt holds its claim; past it, the attempt counts as lost."""
        return self.smtp_timeout_seconds * 4 + 30
