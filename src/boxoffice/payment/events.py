"""The events payment publishes (docs/contracts.md): payment.completed, payment.failed and
payment.refunded. Each carries the same payment payload, plus `reason` where one is given, and
is recorded with an `EventRecorder` in the transaction that changes the payment, with
`aggregate_id` the booking's id: one booking's payment events are published in order
(completed before refunded)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any, ClassVar, Self

from boxoffice.core.events.payloads import EventPayload
from boxoffice.payment.models import Payment

CENTS = Decimal("0.01")


class PaymentEvent(EventPayload):
    """The payment payload every `payment.*` event carries (ids and amounts as strings)."""

    payment_id: uuid.UUID
    booking_id: uuid.UUID
    booking_code: str | None
    user_id: uuid.UUID
    user_email: str
    amount: Decimal
    payment_method: str
    transaction_id: str | None
    status: str
    reason: str | None = None

    @classmethod
    def of(cls, payment: Payment, reason: str | None = None) -> Self:
        """This event about `payment` as it is now (`reason` as the contract names it)."""
        return cls(
            payment_id=payment.id,
            booking_id=payment.booking_id,
            booking_code=payment.booking_code,
            user_id=payment.user_id,
            user_email=payment.user_email,
            amount=Decimal(payment.amount).quantize(CENTS),
            payment_method=payment.payment_method,
            transaction_id=payment.transaction_id,
            status=payment.status,
            reason=reason,
        )

    def to_payload(self) -> dict[str, Any]:
        """`reason` is on the wire only where one is given (never as null)."""
        payload = super().to_payload()
        if self.reason is None:
            del payload["reason"]
        return payload


class PaymentCompleted(PaymentEvent):
    """A charge succeeded: booking confirms the booking, notification tells the customer."""

    event_name: ClassVar[str] = "payment.completed"


class PaymentFailed(PaymentEvent):
    """A charge was declined or timed out; `reason` says which."""

    event_name: ClassVar[str] = "payment.failed"


class PaymentRefunded(PaymentEvent):
    """A refund was made; `reason`: requested, booking_cancelled or booking_expired."""

    event_name: ClassVar[str] = "payment.refunded"
