"""The events payment produces (docs/contracts.md): payment.completed, payment.failed and
payment.refunded, each recorded with `record_event` in the outbox of the transaction that
changes the payment, with `aggregate_id` the booking's id: one booking's payment events are
published in order (completed before refunded)."""

from __future__ import annotations

from typing import Any

from boxoffice.payment.models import Payment


def payment_payload(payment: Payment, reason: str | None = None) -> dict[str, Any]:
    """The payment payload every `payment.*` event carries (amounts as strings)."""
    payload: dict[str, Any] = {
        "payment_id": str(payment.id),
        "booking_id": str(payment.booking_id),
        "booking_code": payment.booking_code,
        "user_id": str(payment.user_id),
        "user_email": payment.user_email,
        "amount": f"{payment.amount:.2f}",
        "payment_method": payment.payment_method,
        "transaction_id": payment.transaction_id,
        "status": payment.status,
    }
    if reason is not None:
        payload["reason"] = reason
    return payload
