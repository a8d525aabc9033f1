"""Wiring of the payment service."""

from boxoffice.core.app import ServiceContext, ServiceDefinition
from boxoffice.core.events import events_wiring
from boxoffice.payment.consumers import handlers
from boxoffice.payment.provider import SharedLedger, SimulatedGateway
from boxoffice.payment.routes import router
from boxoffice.payment.service import PROVIDER
from boxoffice.payment.sweeper import payment_sweeper


async def install_provider(ctx: ServiceContext) -> None:
    """The card gateway: one a runtime brings (`extras["payment_provider"]`), else the simulator."""
    settings = ctx.settings
    redis = ctx.runtime.redis
    prefix = f"{settings.db_prefix}bo:"
    ctx.state[PROVIDER] = ctx.runtime.extras.get("payment_provider") or SimulatedGateway(
        latency_ms=settings.payment_gateway_latency_ms,
        timeout_seconds=settings.payment_gateway_timeout_seconds,
        # Distributed mode may run several payment processes: they share one simulated bank.
        ledger=SharedLedger(redis, prefix) if redis is not None else None,
    )


events = events_wiring(handlers)

SERVICE = ServiceDefinition(
    name="payment",
    package="boxoffice.payment",
    title="payment service",
    description="Payments, refunds and idempotency: each booking is paid exactly once.",
    routers=[router],
    startup=[*events.startup, install_provider],
    background=[*events.background, payment_sweeper],
    shutdown=[*events.shutdown],
)
