"""Reconciliation: find payments whose booking disagrees with them, and put it right.

Run by an admin (`POST /reconcile`, or `boxoffice payments reconcile`). Each case has one fix:

| payment   | booking                               | fix                                   |
|-----------|---------------------------------------|---------------------------------------|
| pending / refunding, stale | —                    | sweep: ask the gateway, finish it     |
| completed | pending, not expired (not confirmed)  | announce `payment.completed` again    |
| completed | expired or cancelled (not paid)       | refund (booking_expired / _cancelled) |
| refunded  | still confirmed or paid               | announce `payment.refunded` again     |
| failed    | — but the gateway holds its charge    | give the stray charge back            |
| completed | missing, or confirmed but not paid    | report only: a person must look       |
| refunded  | confirmed and checked in              | report only: a used ticket (refunds.md) |

Announcing again is safe because booking's consumers act on state (confirming a confirmed
booking changes nothing) and every announcement is a new outbox event.
"""

from __future__ import annotations

import uuid

import structlog

from boxoffice.core.app import ServiceContext
from boxoffice.core.db import utcnow
from boxoffice.core.errors import AppError
from boxoffice.core.events import record_event
from boxoffice.payment.bookings import BookingFacts, fetch_booking
from boxoffice.payment.events import payment_payload
from boxoffice.payment.models import Payment
from boxoffice.payment.refunds import refund_payment
from boxoffice.payment.repository import PaymentRepository
from boxoffice.payment.schemas import Finding, ReconcileReport
from boxoffice.payment.service import lookup_charge, return_stray_charge, transaction
from boxoffice.payment.sweeper import sweep_once

log = structlog.get_logger("boxoffice.payment.reconcile")

UNCLEAR_FAILURES = ("gateway_timeout", "gateway_error", "abandoned")


async def reconcile(ctx: ServiceContext, authorization: str, *, fix: bool) -> ReconcileReport:
    """Compare every settled payment with its booking (asked as the admin calling)."""
    report = ReconcileReport(dry_run=not fix)
    if fix:
        swept = await sweep_once(ctx)
        report.swept = len(swept.completed) + len(swept.failed) + len(swept.refunded)
    last_id: uuid.UUID | None = None
    while True:
        async with ctx.db.sessionmaker() as session:
            page = await PaymentRepository(session).after(
                ["completed", "refunded", "failed"], last_id
            )
        if not page:
            break
        last_id = page[-1].id
        for payment in page:
            report.checked += 1
            finding = await _check(ctx, payment, authorization, fix=fix)
            if finding is not None:
                report.findings.append(finding)
    log.info(
        "payments_reconciled",
        checked=report.checked,
        findings=len(report.findings),
        fixed=sum(f.fixed for f in report.findings),
        dry_run=not fix,
    )
    return report


async def _check(
    ctx: ServiceContext, payment: Payment, authorization: str, *, fix: bool
) -> Finding | None:
    if payment.status == "failed":
        return await _check_failed(ctx, payment, fix=fix)
    booking = await fetch_booking(ctx, payment.booking_id, authorization)
    problem, action = _diagnose(payment, booking)
    if problem is None:
        return None
    finding = Finding(
        payment_id=payment.id,
        booking_id=payment.booking_id,
        payment_status=payment.status,
        booking_status=booking.status if booking else None,
        booking_payment_status=booking.payment_status if booking else None,
        problem=problem,
        action=action,
    )
    if fix and action != "report":
        try:
            await _apply(ctx, payment, action)
            finding.fixed = True
        except AppError as exc:
            finding.error = exc.detail
    return finding


def _diagnose(payment: Payment, booking: BookingFacts | None) -> tuple[str | None, str]:
    if payment.status == "completed":
        if booking is None:
            return "booking_missing", "report"
        if booking.status == "confirmed":
            if booking.payment_status == "paid":
                return None, ""
            return "confirmed_booking_not_marked_paid", "report"
        if booking.expired_at(utcnow()):
            return "paid_after_booking_expired", "refund_booking_expired"
        if booking.status == "cancelled":
            return "paid_booking_cancelled", "refund_booking_cancelled"
        return "completion_not_applied", "announce_completed"
    if booking is not None and booking.checked_in_at is not None:
        if booking.status == "confirmed":
            # Booking never cancels a used ticket (docs/refunds.md): announcing it again would
            # change nothing. A person looks at it.
            return "used_ticket_refunded", "report"
    if booking is not None and (booking.status == "confirmed" or booking.payment_status == "paid"):
        return "refund_not_applied", "announce_refunded"
    return None, ""


async def _apply(ctx: ServiceContext, payment: Payment, action: str) -> None:
    if action.startswith("refund_"):
        await refund_payment(ctx, payment.id, reason=action.removeprefix("refund_"))
        return
    name = "payment.completed" if action == "announce_completed" else "payment.refunded"
    async with transaction(ctx) as session:
        current = await PaymentRepository(session).get(payment.id)
        assert current is not None
        if current.status == payment.status:  # unchanged since the check
            record_event(
                session,
                name,
                payment_payload(current, current.refund_reason),
                aggregate_id=str(current.booking_id),
            )


async def _check_failed(ctx: ServiceContext, payment: Payment, *, fix: bool) -> Finding | None:
    """A failed payment whose outcome was unclear may still have been charged at the gateway."""
    if payment.failure_reason not in UNCLEAR_FAILURES or payment.refund_transaction_id:
        return None
    charge = await lookup_charge(ctx, str(payment.id))
    if charge is None:
        return None
    finding = Finding(
        payment_id=payment.id,
        booking_id=payment.booking_id,
        payment_status=payment.status,
        problem="failed_payment_was_charged",
        action="return_stray_charge",
    )
    if fix:
        await return_stray_charge(ctx, payment, charge)
        finding.fixed = True
    return finding
