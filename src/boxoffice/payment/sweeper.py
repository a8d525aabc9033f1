"""The payment sweeper: no payment stays `pending` or `refunding` forever.

A request that died between its steps (process killed, client gone) leaves its payment in an
in-between state. Once that state is older than any live request could be, the sweeper asks
the gateway what really happened and finishes the payment accordingly. Every step is a
conditional transition, so several replicas may sweep at once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field

import structlog

from boxoffice.core.app import ServiceContext
from boxoffice.core.db import utcnow
from boxoffice.core.errors import AppError
from boxoffice.payment.refunds import finish_refund
from boxoffice.payment.repository import PaymentRepository
from boxoffice.payment.service import complete, fail, gateway_timeout, lookup_charge

log = structlog.get_logger("boxoffice.payment.sweeper")


@dataclass
class SweepReport:
    """What one sweep settled, by payment id."""

    completed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    refunded: list[str] = field(default_factory=list)


def stale_after(ctx: ServiceContext) -> dt.timedelta:
    """How old an in-between state must be before no live request can still be finishing it."""
    return dt.timedelta(seconds=2 * gateway_timeout(ctx) + 5)


async def sweep_once(ctx: ServiceContext, *, now: dt.datetime | None = None) -> SweepReport:
    """Settle every payment stuck in `pending` or `refunding` since before the cut-off."""
    cutoff = (now or utcnow()) - stale_after(ctx)
    report = SweepReport()
    async with ctx.db.sessionmaker() as session:
        stuck = await PaymentRepository(session).stale(["pending", "refunding"], cutoff)
    for payment in stuck:
        try:
            if payment.status == "pending":
                charge = await lookup_charge(ctx, str(payment.id))
                if charge is not None:
                    settled = await complete(ctx, payment.id, charge)
                    if settled.status == "completed":
                        report.completed.append(str(payment.id))
                else:
                    settled = await fail(ctx, payment.id, "abandoned")
                    if settled.status == "failed":
                        report.failed.append(str(payment.id))
            else:
                settled = await finish_refund(ctx, payment.id)
                if settled.status == "refunded":
                    report.refunded.append(str(payment.id))
        except AppError as exc:
            log.warning("sweep_deferred", payment_id=str(payment.id), error=exc.detail)
    if report.completed or report.failed or report.refunded:
        log.info("payments_swept", **{k: len(v) for k, v in vars(report).items()})
    return report


async def payment_sweeper(ctx: ServiceContext) -> None:
    """Background loop: sweep every few seconds (started by the app, restarted if it crashes)."""
    interval = max(1.0, min(gateway_timeout(ctx), 30.0))
    while True:
        try:
            await sweep_once(ctx)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("payment_sweep_failed", error=repr(exc))
        await asyncio.sleep(interval)
