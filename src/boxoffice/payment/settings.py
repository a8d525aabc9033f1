"""The payment service's settings, on the shared base (boxoffice.settings joins every service's)."""

from __future__ import annotations

from pydantic import Field

from boxoffice.core.settings import CoreSettings


class PaymentSettings(CoreSettings):
    """The payment service's settings: the card gateway's timeout (and the simulator's latency)."""

    payment_gateway_latency_ms: int = Field(0, ge=0, description="Simulated card gateway latency")
    payment_gateway_timeout_seconds: float = Field(5.0, gt=0, description="Card gateway timeout")
