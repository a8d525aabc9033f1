"""The payment sweeper: no payment stays `pending` or `refunding` forever.

A request that died between its steps (process killed, client gone) leaves its payment in an
in-between state. Once that state is older than any live request could be, the sweep
(`PaymentService.sweep`) asks the gateway what really happened and finishes the payment
accordingly. Every step is a conditional transition, so several replicas may sweep at once.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import structlog

from boxoffice.core.app import ServiceContext
from boxoffice.payment.service import PaymentService, SweepReport

log = structlog.get_logger("boxoffice.payment.sweeper")


async def sweep_once(ctx: ServiceContext, *, now: dt.datetime | None = None) -> SweepReport:
    """Settle every payment stuck in `pending` or `refunding` since before the cut-off."""
    return await PaymentService.from_context(ctx).sweep(now=now)


async def payment_sweeper(ctx: ServiceContext) -> None:
    """Background loop: sweep every few seconds (started by the app, restarted if it crashes)."""
    interval = max(1.0, min(float(ctx.settings.payment_gateway_timeout_seconds), 30.0))
    while True:
        try:
            await sweep_once(ctx)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("payment_sweep_failed", error=repr(exc))
        await asyncio.sleep(interval)
