"""Paying a booking exactly once (`POST /process`): the rules, in short transactions.

The database decides, not a cache and not a check-then-insert:
1. the payment row (pending, user, Idempotency-Key, body fingerprint) is inserted and committed
   first; a unique constraint on (user_id, idempotency_key) collapses racing duplicates to one
   row, and a partial unique index on booking_id stops a second charge under another key;
2. the gateway is called outside any transaction (a slow gateway never holds a lock);
3. the row moves to completed/failed in one transaction with its `payment.*` outbox event.
A payment left pending by a crash is finished by the sweeper (`sweeper.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.app import ServiceContext
from boxoffice.core.auth import Principal
from boxoffice.core.db import utcnow
from boxoffice.core.errors import AppError
from boxoffice.core.events import record_event
from boxoffice.payment.bookings import BookingFacts, fetch_booking
from boxoffice.payment.errors import (
    AmountMismatch,
    BookingAlreadyPaid,
    BookingNotFound,
    BookingNotPayable,
    IdempotencyKeyMissing,
    IdempotencyKeyReused,
    PaymentDeclined,
    PaymentGatewayTimeout,
    PaymentGatewayUnavailable,
    PaymentInProgress,
    ShowtimeStarted,
)
from boxoffice.payment.events import payment_payload
from boxoffice.payment.metrics import PAYMENTS
from boxoffice.payment.models import Payment
from boxoffice.payment.provider import Charge, ChargeDeclined, PaymentProvider
from boxoffice.payment.repository import PaymentRepository
from boxoffice.payment.schemas import PaymentOut, ProcessPayment

log = structlog.get_logger("boxoffice.payment")

# How long a duplicate request waits for the first one to finish before answering 409.
IN_FLIGHT_POLLS = 20
IN_FLIGHT_POLL_SECONDS = 0.05


@dataclass(frozen=True, slots=True)
class ProcessOutcome:
    """The payment a `POST /process` answers with, and whether it was a replay."""

    payment: PaymentOut
    replayed: bool


@contextlib.asynccontextmanager
async def transaction(ctx: ServiceContext) -> AsyncIterator[AsyncSession]:
    """A short transaction of its own, committed on leaving the block."""
    async with ctx.db.sessionmaker() as session, session.begin():
        yield session


def valid_idempotency_key(value: str | None) -> str:
    """The Idempotency-Key header, required: 1 to 255 printable ASCII characters."""
    key = (value or "").strip()
    if not key or len(key) > 255 or not all(" " <= c <= "~" for c in key):
        raise IdempotencyKeyMissing()
    return key


def provider_of(ctx: ServiceContext) -> PaymentProvider:
    return ctx.state["provider"]  # type: ignore[no-any-return]


def gateway_timeout(ctx: ServiceContext) -> float:
    return float(ctx.settings.payment_gateway_timeout_seconds)


def failure_error(payment: PaymentOut) -> AppError:
    """The error a failed payment answers with, first time and on every replay."""
    extra = {"payment_id": str(payment.id)}
    if payment.failure_reason == "card_declined":
        return PaymentDeclined(extra=extra)
    if payment.failure_reason == "gateway_error":
        return PaymentGatewayUnavailable(
            "The payment gateway failed; the payment was not made", extra=extra
        )
    return PaymentGatewayTimeout(extra=extra)


async def process_payment(
    ctx: ServiceContext, user: Principal, idempotency_key: str, request: ProcessPayment
) -> ProcessOutcome:
    """Pay the caller's pending booking once, or answer as the first request under this key."""
    fingerprint = request.fingerprint()
    # The design puts a Redis cache in front of this read (6.3). It is left out: every payment
    # paid two Redis round trips for it, replays are rare, and this indexed read answers one.
    async with ctx.db.sessionmaker() as session:
        existing = await PaymentRepository(session).find_by_key(user.user_id, idempotency_key)
    if existing is not None:
        return await _replay(ctx, existing, fingerprint)

    booking = _check_payable(
        await fetch_booking(ctx, request.booking_id, f"Bearer {user.token}"), user, request
    )
    payment = Payment(
        id=uuid.uuid4(),
        booking_id=booking.id,
        booking_code=booking.booking_code,
        user_id=user.user_id,
        user_email=user.email,
        amount=request.amount,
        payment_method=request.payment_method,
        idempotency_key=idempotency_key,
        request_fingerprint=fingerprint,
        status="pending",
    )
    try:
        async with transaction(ctx) as session:
            await PaymentRepository(session).add(payment)
    except IntegrityError:
        # Either a racer with the same key won (answer as it does), or another key already
        # charges this booking (a second charge is what the partial unique index forbids).
        async with ctx.db.sessionmaker() as session:
            existing = await PaymentRepository(session).find_by_key(user.user_id, idempotency_key)
        if existing is not None:
            return await _replay(ctx, existing, fingerprint)
        PAYMENTS.labels("already_paid").inc()
        raise BookingAlreadyPaid()
    return ProcessOutcome(await _charge(ctx, payment, request.payment_token), replayed=False)


def _check_payable(
    booking: BookingFacts | None, user: Principal, request: ProcessPayment
) -> BookingFacts:
    # Admins may read any booking, but nobody pays someone else's: that is a 404 too.
    if booking is None or booking.user_id != user.user_id:
        PAYMENTS.labels("rejected").inc()
        raise BookingNotFound()
    if booking.payment_status == "paid":
        PAYMENTS.labels("already_paid").inc()
        raise BookingAlreadyPaid("This booking is already paid")
    if booking.status != "pending" or booking.expired_at(utcnow()):
        PAYMENTS.labels("rejected").inc()
        state = "expired" if booking.expired_at(utcnow()) else booking.status
        raise BookingNotPayable(f"This booking is {state} and cannot be paid")
    if booking.show_started_at(utcnow()):
        # Asked before the charge: no money is taken for a show that has started.
        PAYMENTS.labels("rejected").inc()
        raise ShowtimeStarted()
    if booking.total_price != request.amount:
        PAYMENTS.labels("rejected").inc()
        raise AmountMismatch(
            f"The amount must equal the booking's total of {booking.total_price:.2f}"
        )
    return booking


def _replayed(payment: PaymentOut) -> ProcessOutcome:
    PAYMENTS.labels("replayed").inc()
    if payment.status == "failed":
        raise failure_error(payment)
    return ProcessOutcome(payment, replayed=True)


async def _replay(ctx: ServiceContext, payment: Payment, fingerprint: str) -> ProcessOutcome:
    """Answer a repeated key: the stored outcome, 422 for another body, 409 while in flight."""
    if payment.request_fingerprint != fingerprint:
        PAYMENTS.labels("key_reused").inc()
        raise IdempotencyKeyReused()
    for _ in range(IN_FLIGHT_POLLS):
        if payment.status != "pending":
            return _replayed(PaymentOut.model_validate(payment))
        await asyncio.sleep(IN_FLIGHT_POLL_SECONDS)
        async with ctx.db.sessionmaker() as session:
            reloaded = await PaymentRepository(session).get(payment.id)
        assert reloaded is not None
        payment = reloaded
    if payment.status != "pending":
        return _replayed(PaymentOut.model_validate(payment))
    PAYMENTS.labels("in_progress").inc()
    raise PaymentInProgress(headers={"Retry-After": "1"}, extra={"payment_id": str(payment.id)})


async def _charge(ctx: ServiceContext, payment: Payment, token: str | None) -> PaymentOut:
    """Ask the gateway (outside any transaction), then record the outcome and its event."""
    provider = provider_of(ctx)
    reference = str(payment.id)
    charge: Charge | None = None
    reason = "gateway_timeout"
    try:
        charge = await asyncio.wait_for(
            provider.charge(
                reference=reference,
                amount=payment.amount,
                payment_method=payment.payment_method,
                token=token,
            ),
            timeout=gateway_timeout(ctx),
        )
    except ChargeDeclined:
        reason = "card_declined"
    except TimeoutError:
        reason = "gateway_timeout"
    except Exception as exc:
        log.warning("gateway_charge_failed", payment_id=reference, error=repr(exc))
        reason = "gateway_error"
    if charge is None and reason != "card_declined":
        # A timeout or an error says nothing about whether money moved: ask before failing it.
        charge = await lookup_charge(ctx, reference)
    if charge is not None:
        result = await complete(ctx, payment.id, charge)
    else:
        result = await fail(ctx, payment.id, reason)
    if result.status == "failed":
        raise failure_error(result)
    return result


async def lookup_charge(ctx: ServiceContext, reference: str) -> Charge | None:
    """The gateway's record of a charge; None when it has none or cannot say in time."""
    try:
        return await asyncio.wait_for(
            provider_of(ctx).find_charge(reference), timeout=gateway_timeout(ctx)
        )
    except Exception as exc:
        log.warning("gateway_lookup_failed", payment_id=reference, error=repr(exc))
        return None


async def complete(ctx: ServiceContext, payment_id: uuid.UUID, charge: Charge) -> PaymentOut:
    """pending → completed with `payment.completed`, unless someone else settled it first."""
    async with transaction(ctx) as session:
        repo = PaymentRepository(session)
        moved = await repo.transition_returning(
            payment_id,
            ["pending"],
            status="completed",
            transaction_id=charge.transaction_id,
            payment_date=utcnow(),
            failure_reason=None,
        )
        won = moved is not None
        payment = moved or await repo.get(payment_id)
        assert payment is not None
        if won:
            record_event(
                session,
                "payment.completed",
                payment_payload(payment),
                aggregate_id=str(payment.booking_id),
            )
    if won:
        PAYMENTS.labels("completed").inc()
        log.info(
            "payment_completed", payment_id=str(payment_id), booking_id=str(payment.booking_id)
        )
    elif payment.status == "failed":
        # The sweeper gave up on it before the gateway's late success arrived: give it back.
        await return_stray_charge(ctx, payment, charge)
    return PaymentOut.model_validate(payment)


async def fail(ctx: ServiceContext, payment_id: uuid.UUID, reason: str) -> PaymentOut:
    """pending → failed with `payment.failed`, unless someone else settled it first."""
    async with transaction(ctx) as session:
        repo = PaymentRepository(session)
        moved = await repo.transition_returning(
            payment_id, ["pending"], status="failed", failure_reason=reason
        )
        won = moved is not None
        payment = moved or await repo.get(payment_id)
        assert payment is not None
        if won:
            record_event(
                session,
                "payment.failed",
                payment_payload(payment, reason),
                aggregate_id=str(payment.booking_id),
            )
    if won:
        outcome = {"card_declined": "declined", "gateway_timeout": "timeout"}.get(reason, reason)
        PAYMENTS.labels(outcome).inc()
        log.info("payment_failed", payment_id=str(payment_id), reason=reason)
    return PaymentOut.model_validate(payment)


async def return_stray_charge(ctx: ServiceContext, payment: Payment, charge: Charge) -> None:
    """Refund, at the gateway, a charge made for a payment recorded as failed."""
    try:
        refund = await asyncio.wait_for(
            provider_of(ctx).refund(
                reference=charge.reference,
                transaction_id=charge.transaction_id,
                amount=charge.amount,
            ),
            timeout=gateway_timeout(ctx),
        )
    except Exception as exc:
        log.error("stray_charge_refund_failed", payment_id=str(payment.id), error=repr(exc))
        return
    async with transaction(ctx) as session:
        await PaymentRepository(session).transition(
            payment.id, ["failed"], refund_transaction_id=refund.transaction_id
        )
    log.warning("stray_charge_refunded", payment_id=str(payment.id), txn=charge.transaction_id)
