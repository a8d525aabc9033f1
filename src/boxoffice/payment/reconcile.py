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
from boxoffice.payment.bookings import BookingClient, BookingFacts
from boxoffice.payment.models import Payment
from boxoffice.payment.schemas import Finding, ReconcileReport
from boxoffice.payment.service import PaymentService

log = structlog.get_logger("boxoffice.payment.reconcile")

UNCLEAR_FAILURES = ("gateway_timeout", "gateway_error", "abandoned")


class Reconciler:
    """Walks the settled payments, asks booking about each, and applies the one fix of each
    case through the `PaymentService` (which owns every transition and event)."""

    def __init__(self, payments: PaymentService, bookings: BookingClient) -> None:
        self.payments = payments
        self.bookings = bookings

    @classmethod
    def from_context(cls, ctx: ServiceContext) -> Reconciler:
        service = PaymentService.from_context(ctx)
        return cls(service, service.bookings)

    async def reconcile(self, authorization: str, *, fix: bool) -> ReconcileReport:
        """Compare every settled payment with its booking (asked as the admin calling)."""
        report = ReconcileReport(dry_run=not fix)
        if fix:
            swept = await self.payments.sweep()
            report.swept = len(swept.completed) + len(swept.failed) + len(swept.refunded)
        last_id: uuid.UUID | None = None
        while True:
            page = await self.payments.settled_page(after=last_id)
            if not page:
                break
            last_id = page[-1].id
            for payment in page:
                report.checked += 1
                finding = await self._check(payment, authorization, fix=fix)
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

    async def _check(self, payment: Payment, authorization: str, *, fix: bool) -> Finding | None:
        if payment.status == "failed":
            return await self._check_failed(payment, fix=fix)
        booking = await self.bookings.fetch(payment.booking_id, authorization)
        problem, action = diagnose(payment, booking)
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
                await self._apply(payment, action)
                finding.fixed = True
            except AppError as exc:
                finding.error = exc.detail
        return finding

    async def _apply(self, payment: Payment, action: str) -> None:
        if action.startswith("refund_"):
            await self.payments.refund(payment.id, reason=action.removeprefix("refund_"))
            return
        # announce_completed (a completed payment) or announce_refunded (a refunded one)
        await self.payments.announce(payment)

    async def _check_failed(self, payment: Payment, *, fix: bool) -> Finding | None:
        """A failed payment whose outcome was unclear may still have been charged at the
        gateway."""
        if payment.failure_reason not in UNCLEAR_FAILURES or payment.refund_transaction_id:
            return None
        charge = await self.payments.lookup_charge(str(payment.id))
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
            await self.payments.return_stray_charge(payment, charge)
            finding.fixed = True
        return finding


def diagnose(payment: Payment, booking: BookingFacts | None) -> tuple[str | None, str]:
    """What is wrong between a settled payment and its booking, and the action that fixes it."""
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
