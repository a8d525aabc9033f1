"""Request and response bodies of the payment service (design 4.4)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

# Amounts leave as JSON numbers, as in the design's example (`"amount": 240000.0`); two decimal
# places fit a double exactly for any realistic ticket total.
MoneyOut = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]

PaymentMethod = Literal["credit_card", "bank_transfer", "e_wallet"]
PaymentStatus = Literal["pending", "completed", "failed", "refunding", "refunded"]


class ProcessPayment(BaseModel):
    """Pay a pending booking (`POST /process`)."""

    model_config = ConfigDict(extra="forbid")

    booking_id: uuid.UUID
    payment_method: PaymentMethod = "credit_card"
    amount: Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=2)]
    payment_token: Annotated[
        str | None,
        Field(
            max_length=255,
            description="The card token from the gateway's form; `tok_decline` and "
            "`tok_timeout` make the simulated gateway decline or time out",
        ),
    ] = None

    def fingerprint(self) -> str:
        """A stable hash of what was asked: 240000 and 240000.00 are the same request."""
        canonical = {
            "booking_id": str(self.booking_id),
            "payment_method": self.payment_method,
            "amount": str(self.amount.quantize(Decimal("0.01"))),
            "payment_token": self.payment_token,
        }
        encoded = json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(encoded).hexdigest()


class PaymentOut(BaseModel):
    """A payment as its owner sees it (design 4.4 plus status details)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    booking_id: uuid.UUID
    booking_code: str | None
    user_id: uuid.UUID
    amount: MoneyOut
    payment_method: str
    transaction_id: str | None
    status: PaymentStatus
    payment_date: dt.datetime | None = Field(description="When the charge succeeded")
    created_at: dt.datetime
    failure_reason: str | None = None
    refund_reason: str | None = None
    refunded_at: dt.datetime | None = None


class Finding(BaseModel):
    """One payment whose booking disagrees with it, and what was (or would be) done."""

    payment_id: uuid.UUID
    booking_id: uuid.UUID
    payment_status: str
    booking_status: str | None = None
    booking_payment_status: str | None = None
    problem: str
    action: str
    fixed: bool = False
    error: str | None = None


class ReconcileReport(BaseModel):
    """The outcome of one reconciliation run."""

    dry_run: bool
    swept: int = 0
    checked: int = 0
    findings: list[Finding] = []
