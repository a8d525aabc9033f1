"""Giving money back: on the owner's request, and automatically in the saga.

A customer's refund is first approved by the booking service, which owns the rule that a used
ticket is final (docs/refunds.md); the saga's automatic refunds take no ticket away and do not ask.

completed → refunding → refunded. The claim (completed → refunding) is one conditional UPDATE,
so of two refunds at once exactly one proceeds. The gateway refunds once per payment reference,
so finishing a refund twice (a retry, the sweeper, a redelivered event) moves money once, and
only the transition to refunded records `payment.refunded`.
"""

from __future__ import annotations

import asyncio
import uuid

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.app import ServiceContext
from boxoffice.core.auth import Principal
from boxoffice.core.db import utcnow
from boxoffice.core.errors import AppError
from boxoffice.core.events import record_event
from boxoffice.payment.bookings import approve_refund
from boxoffice.payment.errors import (
    PaymentAlreadyRefunded,
    PaymentGatewayUnavailable,
    PaymentNotFound,
    PaymentNotRefundable,
)
from boxoffice.payment.events import payment_payload
from boxoffice.payment.metrics import PAYMENTS
from boxoffice.payment.models import Payment
from boxoffice.payment.provider import Refund
from boxoffice.payment.repository import PaymentRepository
from boxoffice.payment.schemas import PaymentOut
from boxoffice.payment.service import gateway_timeout, provider_of, transaction

log = structlog.get_logger("boxoffice.payment.refunds")


def visible_to(payment: Payment | None, user: Principal) -> bool:
    """Owners see their payments; admins see all."""
    return payment is not None and (user.is_admin or payment.user_id == user.user_id)


def _not_refundable(payment: Payment) -> AppError:
    if payment.status in ("refunding", "refunded"):
        return PaymentAlreadyRefunded()
    return PaymentNotRefundable(f"This payment is {payment.status}; only a completed one refunds")


async def request_refund(ctx: ServiceContext, user: Principal, payment_id: uuid.UUID) -> PaymentOut:
    """The owner (or an admin) asks for the money back: booking approves (409 once the ticket
    is used or its show started), then claim, refund at the gateway, record."""
    async with ctx.db.sessionmaker() as session:
        payment = await PaymentRepository(session).get(payment_id)
    if payment is None or not visible_to(payment, user):
        raise PaymentNotFound()
    if payment.status != "completed":
        raise _not_refundable(payment)
    # Asked before the claim: booking's yes withdraws the ticket from the door, so a check-in
    # racing this refund loses. A yes followed by a lost claim (another refund of the same
    # payment won it) leaves nothing wrong: that refund ends the booking as well.
    await approve_refund(ctx, payment.booking_id, payment_id, f"Bearer {user.token}")
    return await refund_payment(ctx, payment_id, reason="requested")


async def refund_payment(ctx: ServiceContext, payment_id: uuid.UUID, *, reason: str) -> PaymentOut:
    """Claim a completed payment for refund, refund it at the gateway and record it refunded."""
    # Claimed in a short transaction of its own, so the gateway call below holds no lock.
    async with transaction(ctx) as session:
        repo = PaymentRepository(session)
        claimed = await repo.transition(
            payment_id, ["completed"], status="refunding", refund_reason=reason
        )
        current = await repo.get(payment_id)
    if current is None:
        raise PaymentNotFound()
    if not claimed:
        raise _not_refundable(current)
    return await finish_refund(ctx, payment_id)


async def finish_refund(ctx: ServiceContext, payment_id: uuid.UUID) -> PaymentOut:
    """Refund a claimed (refunding) payment at the gateway and record it refunded."""
    async with ctx.db.sessionmaker() as session:
        payment = await PaymentRepository(session).get(payment_id)
    assert payment is not None
    if payment.status != "refunding":
        return PaymentOut.model_validate(payment)
    refund = await _gateway_refund(ctx, payment)
    async with transaction(ctx) as session:
        payment = await _mark_refunded(session, payment_id, refund)
    return PaymentOut.model_validate(payment)


async def refund_in_session(
    ctx: ServiceContext, session: AsyncSession, payment_id: uuid.UUID, *, reason: str
) -> None:
    """Refund a payment inside an event handler's transaction.

    The handler's transaction already holds the inbox row (on SQLite, the database's one write
    lock), so everything happens on its session; if it rolls back, the redelivery refunds again
    and the gateway answers with the same refund.
    """
    repo = PaymentRepository(session)
    await repo.transition(payment_id, ["completed"], status="refunding", refund_reason=reason)
    payment = await repo.get(payment_id)
    if payment is None:
        log.warning("refund_of_unknown_payment", payment_id=str(payment_id), reason=reason)
        return
    if payment.status != "refunding":
        log.info("refund_not_needed", payment_id=str(payment_id), status=payment.status)
        return
    refund = await _gateway_refund(ctx, payment)
    await _mark_refunded(session, payment_id, refund)


async def refund_booking_in_session(
    ctx: ServiceContext, session: AsyncSession, booking_id: uuid.UUID, *, reason: str
) -> None:
    """Refund whatever was charged for a booking (at most one payment), in the handler's session."""
    charged = await PaymentRepository(session).for_booking(booking_id, ["completed", "refunding"])
    if not charged:
        log.info("booking_has_nothing_to_refund", booking_id=str(booking_id), reason=reason)
    for payment in charged:
        await refund_in_session(ctx, session, payment.id, reason=reason)


async def _gateway_refund(ctx: ServiceContext, payment: Payment) -> Refund:
    if payment.transaction_id is None:
        raise PaymentGatewayUnavailable("This payment has no gateway transaction to refund")
    try:
        return await asyncio.wait_for(
            provider_of(ctx).refund(
                reference=str(payment.id),
                transaction_id=payment.transaction_id,
                amount=payment.amount,
            ),
            timeout=gateway_timeout(ctx),
        )
    except Exception as exc:
        # The payment stays `refunding`; the sweeper finishes it when the gateway is back.
        log.warning("gateway_refund_failed", payment_id=str(payment.id), error=repr(exc))
        raise PaymentGatewayUnavailable(
            "The payment gateway did not confirm the refund; it will be retried automatically"
        )


async def _mark_refunded(session: AsyncSession, payment_id: uuid.UUID, refund: Refund) -> Payment:
    repo = PaymentRepository(session)
    won = await repo.transition(
        payment_id,
        ["refunding"],
        status="refunded",
        refunded_at=utcnow(),
        refund_transaction_id=refund.transaction_id,
    )
    payment = await repo.get(payment_id)
    assert payment is not None
    if won:
        record_event(
            session,
            "payment.refunded",
            payment_payload(payment, payment.refund_reason),
            aggregate_id=str(payment.booking_id),
        )
        PAYMENTS.labels("refunded").inc()
        log.info(
            "payment_refunded",
            payment_id=str(payment_id),
            booking_id=str(payment.booking_id),
            reason=payment.refund_reason,
        )
    return payment
