"""What can go wrong with a payment, named as facts; each carries its HTTP status."""

from __future__ import annotations

from typing import ClassVar

from boxoffice.core.errors import (
    AppError,
    Conflict,
    NotFound,
    ServiceUnavailable,
    UnprocessableRequest,
    UpstreamTimeout,
    ValidationFailed,
)


class IdempotencyKeyMissing(ValidationFailed):
    """The Idempotency-Key header is missing or malformed."""

    error_type = "IdempotencyKeyMissing"
    default_detail = "The Idempotency-Key header is required (1 to 255 printable characters)"


class IdempotencyKeyReused(UnprocessableRequest):
    """The Idempotency-Key was already used with a different request body."""

    error_type = "IdempotencyKeyReused"
    default_detail = "This Idempotency-Key was already used with a different request body"


class PaymentInProgress(Conflict):
    """A payment under this Idempotency-Key is still being processed; retry shortly."""

    error_type = "PaymentInProgress"
    default_detail = "A payment with this Idempotency-Key is still being processed; retry shortly"


class AmountMismatch(ValidationFailed):
    """The amount sent is not the booking's total."""

    error_type = "AmountMismatch"
    default_detail = "The amount does not equal the booking's total"


class BookingNotFound(NotFound):
    """No booking of the caller has this id."""

    error_type = "BookingNotFound"
    default_detail = "Booking not found"


class ShowtimeStarted(Conflict):
    """The booking's show has started (as the booking service says): it is not charged."""

    error_type = "ShowtimeStarted"
    default_detail = "This showtime has already started"


class BookingNotPayable(Conflict):
    """The booking is not pending (confirmed, cancelled or expired) and cannot be paid."""

    error_type = "BookingNotPayable"
    default_detail = "This booking cannot be paid"


class BookingAlreadyPaid(Conflict):
    """The booking is already paid, or a payment for it is in flight."""

    error_type = "BookingAlreadyPaid"
    default_detail = "This booking is already paid or being paid"


class PaymentDeclined(AppError):
    """The card gateway declined the charge; the payment is failed."""

    status_code: ClassVar[int] = 402
    error_type: ClassVar[str] = "PaymentDeclined"
    default_detail: ClassVar[str] = "The payment was declined"


class PaymentGatewayTimeout(UpstreamTimeout):
    """The card gateway did not answer in time; the payment is failed."""

    error_type = "PaymentGatewayTimeout"
    default_detail = "The payment gateway did not answer in time; the payment failed"


class PaymentGatewayUnavailable(ServiceUnavailable):
    """The card gateway failed; the payment is failed (or, for a refund, will be retried)."""

    error_type = "PaymentGatewayUnavailable"
    default_detail = "The payment gateway is unavailable"


class PaymentNotFound(NotFound):
    """No payment visible to the caller has this id."""

    error_type = "PaymentNotFound"
    default_detail = "Payment not found"


class PaymentAlreadyRefunded(Conflict):
    """The payment is already refunded (or its refund is under way)."""

    error_type = "PaymentAlreadyRefunded"
    default_detail = "This payment is already refunded"


class PaymentNotRefundable(Conflict):
    """Only a completed payment can be refunded."""

    error_type = "PaymentNotRefundable"
    default_detail = "Only a completed payment can be refunded"


class RefundRefused(Conflict):
    """The booking service refused the refund: the ticket was checked in or its show started."""

    error_type = "RefundRefused"
    default_detail = "This ticket was used or its show has started: a used ticket is not refunded"
