"""The payment service's typed events: what it publishes keeps the contract's wire JSON
(docs/contracts.md), and what it reads of booking's events is read tolerantly but strictly
enough that an event without the id it needs is malformed (retried, then dead-lettered)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest

from boxoffice.core.events import Event, MalformedEvent
from boxoffice.payment.consumers import CancelledBooking, RejectedPayment
from boxoffice.payment.events import PaymentCompleted, PaymentFailed, PaymentRefunded
from boxoffice.payment.models import Payment


def event(name: str, payload: dict[str, Any]) -> Event:
    return Event(
        id=uuid.uuid4(),
        name=name,
        source="booking",
        occurred_at=dt.datetime.now(dt.UTC),
        correlation_id=None,
        payload=payload,
    )


def a_payment(**values: Any) -> Payment:
    fields: dict[str, Any] = {
        "id": uuid.uuid4(),
        "booking_id": uuid.uuid4(),
        "booking_code": "BK-7",
        "user_id": uuid.uuid4(),
        "user_email": "a@x.test",
        "amount": Decimal("240000"),
        "payment_method": "credit_card",
        "transaction_id": None,
        "status": "failed",
    }
    fields.update(values)
    return Payment(**fields)


def test_a_payment_event_carries_the_contracts_payload_and_a_reason_only_where_given() -> None:
    payment = a_payment()
    failed = PaymentFailed.of(payment, "card_declined").to_payload()
    assert failed == {
        "payment_id": str(payment.id),
        "booking_id": str(payment.booking_id),
        "booking_code": "BK-7",
        "user_id": str(payment.user_id),
        "user_email": "a@x.test",
        "amount": "240000.00",
        "payment_method": "credit_card",
        "transaction_id": None,
        "status": "failed",
        "reason": "card_declined",
    }
    completed = PaymentCompleted.of(a_payment(status="completed", transaction_id="t1"))
    assert "reason" not in completed.to_payload()
    assert completed.to_payload()["transaction_id"] == "t1"
    assert PaymentRefunded.of(payment, None).event_name == "payment.refunded"


@pytest.mark.parametrize(
    ("reason", "refund_reason"),
    [
        ("booking_expired", "booking_expired"),
        ("booking_cancelled", "booking_cancelled"),
        ("already_paid", "booking_expired"),
        (None, "booking_expired"),
    ],
)
def test_a_rejected_payment_refunds_with_bookings_reason_or_as_expired(
    reason: str | None, refund_reason: str
) -> None:
    payment_id = uuid.uuid4()
    payload = {"payment_id": str(payment_id), "booking_id": str(uuid.uuid4()), "reason": reason}
    rejected = event("booking.payment_rejected", payload).read(RejectedPayment)
    assert (rejected.payment_id, rejected.refund_reason) == (payment_id, refund_reason)


def test_a_cancellation_asks_for_no_refund_unless_it_says_so() -> None:
    booking_id = uuid.uuid4()
    cancelled = event("booking.cancelled", {"booking_id": str(booking_id), "seats": 2})
    assert cancelled.read(CancelledBooking) == CancelledBooking(booking_id=booking_id)
    assert not cancelled.read(CancelledBooking).refund_required


@pytest.mark.parametrize(
    ("name", "reader", "payload"),
    [
        ("booking.payment_rejected", RejectedPayment, {"reason": "booking_expired"}),
        ("booking.payment_rejected", RejectedPayment, {"payment_id": "not-a-uuid"}),
        ("booking.cancelled", CancelledBooking, {"refund_required": True}),
    ],
)
def test_an_event_without_the_id_payment_needs_is_malformed(
    name: str, reader: type[Any], payload: dict[str, Any]
) -> None:
    with pytest.raises(MalformedEvent):
        event(name, payload).read(reader)
