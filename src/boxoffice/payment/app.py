"""Wiring of the payment service."""

from boxoffice.core.app import ServiceDefinition

SERVICE = ServiceDefinition(
    name="payment",
    package="boxoffice.payment",
    title="payment service",
    description="Payments, refunds and idempotency.",
    routers=[],
)
