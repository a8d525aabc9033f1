"""`PaymentService`: paying a booking exactly once, and giving the money back.

The database decides, not a cache and not a check-then-insert:
1. the payment row (pending, user, Idempotency-Key, body fingerprint) is inserted and committed
   first; a unique constraint on (user_id, idempotency_key) collapses racing duplicates to one
   row, and a partial unique index on booking_id stops a second charge under another key;
2. the gateway is called outside any transaction (a slow gateway never holds a lock);
3. the row moves to completed/failed in one transaction with its `payment.*` outbox event.
A payment left pending by a crash is finished by the sweeper (`sweep`, run by `sweeper.py`).

Refunds: a customer's refund is first approved by the booking service, which owns the rule that
a used ticket is final (docs/refunds.md); the saga's automatic refunds take no ticket away and do
not ask. completed → refunding → refunded. The claim (completed → refunding) is one conditional
UPDATE, so of two refunds at once exactly one proceeds. The gateway refunds once per payment
reference, so finishing a refund twice (a retry, the sweeper, a redelivered event) moves money
once, and only the transition to refunded records `payment.refunded`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Awaitable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.app import ServiceContext
from boxoffice.core.auth import Principal
from boxoffice.core.db import Database, utcnow
from boxoffice.core.errors import AppError
from boxoffice.core.events.payloads import EventRecorder
from boxoffice.payment.bookings import BookingClient, BookingFacts
from boxoffice.payment.errors import (
    AmountMismatch,
    BookingAlreadyPaid,
    BookingNotFound,
    BookingNotPayable,
    IdempotencyKeyMissing,
    IdempotencyKeyReused,
    PaymentAlreadyRefunded,
    PaymentDeclined,
    PaymentGatewayTimeout,
    PaymentGatewayUnavailable,
    PaymentInProgress,
    PaymentNotFound,
    PaymentNotRefundable,
    ShowtimeStarted,
)
from boxoffice.payment.events import (
    PaymentCompleted,
    PaymentEvent,
    PaymentFailed,
    PaymentRefunded,
)
from boxoffice.payment.metrics import PAYMENTS
from boxoffice.payment.models import Payment
from boxoffice.payment.provider import Charge, ChargeDeclined, PaymentProvider, Refund
from boxoffice.payment.repository import PaymentRepository
from boxoffice.payment.schemas import PaymentOut, ProcessPayment
from boxoffice.payment.settings import PaymentSettings

log = structlog.get_logger("boxoffice.payment")
refund_log = structlog.get_logger("boxoffice.payment.refunds")
sweep_log = structlog.get_logger("boxoffice.payment.sweeper")

T = TypeVar("T")

# How long a duplicate request waits for the first one to finish before answering 409.
IN_FLIGHT_POLLS = 20
IN_FLIGHT_POLL_SECONDS = 0.05

# Where `ServiceContext.state` keeps the card gateway (app.install_provider puts it there).
PROVIDER = "provider"

# The events that announce a payment's settled state again (reconciliation), by that state.
ANNOUNCEMENTS: dict[str, type[PaymentEvent]] = {
    "completed": PaymentCompleted,
    "refunded": PaymentRefunded,
}


@dataclass(frozen=True, slots=True)
class ProcessOutcome:
    """The payment a `POST /process` answers with, and whether it was a replay."""

    payment: PaymentOut
    replayed: bool


@dataclass
class SweepReport:
    """What one sweep settled, by payment id."""

    completed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    refunded: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Work:
    """One short transaction's repository and event recorder, on its session."""

    payments: PaymentRepository
    events: EventRecorder

    @classmethod
    def on(cls, session: AsyncSession) -> Work:
        return cls(PaymentRepository(session), EventRecorder(session))


def valid_idempotency_key(value: str | None) -> str:
    """The Idempotency-Key header, required: 1 to 255 printable ASCII characters."""
    key = (value or "").strip()
    if not key or len(key) > 255 or not all(" " <= c <= "~" for c in key):
        raise IdempotencyKeyMissing()
    return key


def visible_to(payment: Payment | None, user: Principal) -> bool:
    """Owners see their payments; admins see all (staff see only their own)."""
    return payment is not None and (user.is_admin or payment.user_id == user.user_id)


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


def not_refundable(payment: Payment) -> AppError:
    if payment.status in ("refunding", "refunded"):
        return PaymentAlreadyRefunded()
    return PaymentNotRefundable(f"This payment is {payment.status}; only a completed one refunds")


def check_payable(
    booking: BookingFacts | None, user: Principal, request: ProcessPayment
) -> BookingFacts:
    """The booking, if the caller may pay it now with this amount; the refusal otherwise."""
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


class PaymentService:
    """The payment service's rules: process, settle, refund, read and sweep payments.

    The documented exception to the one service shape: a card charge must never run inside a
    database transaction (a slow gateway would hold locks, and the pending row must be committed
    before the charge so a crash leaves a row the sweeper finishes). So this service is not
    built on a request's session, and it commits: it holds the service's `Database` (its
    unit-of-work factory) and runs each step in a short transaction of its own (`_work()`,
    which makes a `PaymentRepository` and an `EventRecorder` for that transaction); reads use a
    short session of their own (`_reading()`). Only the event handlers' refunds
    (`refund_in`, `refund_booking_in`) run on a transaction they are given, the consumer's,
    and never commit it.
    """

    def __init__(
        self,
        db: Database,
        settings: PaymentSettings,
        gateway: PaymentProvider,
        bookings: BookingClient,
    ) -> None:
        self.db = db
        self.settings = settings
        self.gateway = gateway
        self.bookings = bookings

    @classmethod
    def from_context(cls, ctx: ServiceContext) -> PaymentService:
        """Wired for a request, a consumer or a background loop (no session: see above)."""
        return cls(ctx.db, ctx.settings, ctx.state[PROVIDER], BookingClient(ctx.runtime))

    # -- units of work ---------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _work(self) -> AsyncIterator[Work]:
        """A short transaction of its own, committed on leaving the block."""
        async with self.db.transaction() as session:
            yield Work.on(session)

    @contextlib.asynccontextmanager
    async def _reading(self) -> AsyncIterator[PaymentRepository]:
        """A short session for reads only (no transaction), closed on leaving the block."""
        async with self.db.reading() as session:
            yield PaymentRepository(session)

    @property
    def gateway_timeout(self) -> float:
        return float(self.settings.payment_gateway_timeout_seconds)

    async def _in_time(self, call: Awaitable[T]) -> T:
        """A gateway call, bounded by the gateway timeout (TimeoutError past it)."""
        return await asyncio.wait_for(call, timeout=self.gateway_timeout)

    # -- reading ---------------------------------------------------------------------------

    async def payments(
        self,
        user: Principal,
        *,
        booking_id: uuid.UUID | None,
        status: str | None,
        user_id: uuid.UUID | None,
        limit: int,
        offset: int,
    ) -> list[PaymentOut]:
        """The caller's payments, newest first; an admin sees everyone's (or one user's)."""
        owner = user_id if user.is_admin else user.user_id
        async with self._reading() as payments:
            rows = await payments.page(
                user_id=owner, booking_id=booking_id, status=status, limit=limit, offset=offset
            )
            return [PaymentOut.model_validate(row) for row in rows]

    async def payment_for(self, user: Principal, payment_id: uuid.UUID) -> Payment:
        """One payment; someone else's is a 404, as if it did not exist."""
        async with self._reading() as payments:
            payment = await payments.get(payment_id)
        if payment is None or not visible_to(payment, user):
            raise PaymentNotFound()
        return payment

    async def settled_page(self, *, after: uuid.UUID | None) -> Sequence[Payment]:
        """The next page of settled payments (completed, refunded, failed), by id: the
        reconciler walks them all."""
        async with self._reading() as payments:
            return await payments.after(["completed", "refunded", "failed"], after)

    # -- paying ----------------------------------------------------------------------------

    async def process(
        self, user: Principal, idempotency_key: str | None, request: ProcessPayment
    ) -> ProcessOutcome:
        """Pay the caller's pending booking once, or answer as the first request under this key."""
        key = valid_idempotency_key(idempotency_key)
        fingerprint = request.fingerprint()
        # The design puts a Redis cache in front of this read (6.3). It is left out: every
        # payment paid two Redis round trips for it, replays are rare, and this indexed read
        # answers one.
        async with self._reading() as payments:
            existing = await payments.find_by_key(user.user_id, key)
        if existing is not None:
            return await self._replay(existing, fingerprint)

        booking = check_payable(
            await self.bookings.fetch(request.booking_id, f"Bearer {user.token}"), user, request
        )
        payment = Payment(
            id=uuid.uuid4(),
            booking_id=booking.id,
            booking_code=booking.booking_code,
            user_id=user.user_id,
            user_email=user.email,
            amount=request.amount,
            payment_method=request.payment_method,
            idempotency_key=key,
            request_fingerprint=fingerprint,
            status="pending",
        )
        try:
            async with self._work() as work:
                await work.payments.add(payment)
        except IntegrityError:
            # Either a racer with the same key won (answer as it does), or another key already
            # charges this booking (a second charge is what the partial unique index forbids).
            async with self._reading() as payments:
                existing = await payments.find_by_key(user.user_id, key)
            if existing is not None:
                return await self._replay(existing, fingerprint)
            PAYMENTS.labels("already_paid").inc()
            raise BookingAlreadyPaid()
        return ProcessOutcome(await self._charge(payment, request.payment_token), replayed=False)

    async def _replay(self, payment: Payment, fingerprint: str) -> ProcessOutcome:
        """Answer a repeated key: the stored outcome, 422 for another body, 409 while in flight."""
        if payment.request_fingerprint != fingerprint:
            PAYMENTS.labels("key_reused").inc()
            raise IdempotencyKeyReused()
        for _ in range(IN_FLIGHT_POLLS):
            if payment.status != "pending":
                return _replayed(PaymentOut.model_validate(payment))
            await asyncio.sleep(IN_FLIGHT_POLL_SECONDS)
            async with self._reading() as payments:
                reloaded = await payments.get(payment.id)
            assert reloaded is not None
            payment = reloaded
        if payment.status != "pending":
            return _replayed(PaymentOut.model_validate(payment))
        PAYMENTS.labels("in_progress").inc()
        raise PaymentInProgress(headers={"Retry-After": "1"}, extra={"payment_id": str(payment.id)})

    async def _charge(self, payment: Payment, token: str | None) -> PaymentOut:
        """Ask the gateway (outside any transaction), then record the outcome and its event."""
        reference = str(payment.id)
        charge: Charge | None = None
        reason = "gateway_timeout"
        try:
            charge = await self._in_time(
                self.gateway.charge(
                    reference=reference,
                    amount=payment.amount,
                    payment_method=payment.payment_method,
                    token=token,
                )
            )
        except ChargeDeclined:
            reason = "card_declined"
        except TimeoutError:
            reason = "gateway_timeout"
        except Exception as exc:
            log.warning("gateway_charge_failed", payment_id=reference, error=repr(exc))
            reason = "gateway_error"
        if charge is None and reason != "card_declined":
            # A timeout or an error says nothing about whether money moved: ask before failing.
            charge = await self.lookup_charge(reference)
        if charge is not None:
            result = await self.complete(payment.id, charge)
        else:
            result = await self.fail(payment.id, reason)
        if result.status == "failed":
            raise failure_error(result)
        return result

    async def lookup_charge(self, reference: str) -> Charge | None:
        """The gateway's record of a charge; None when it has none or cannot say in time."""
        try:
            return await self._in_time(self.gateway.find_charge(reference))
        except Exception as exc:
            log.warning("gateway_lookup_failed", payment_id=reference, error=repr(exc))
            return None

    # -- settling --------------------------------------------------------------------------

    async def complete(self, payment_id: uuid.UUID, charge: Charge) -> PaymentOut:
        """pending → completed with `payment.completed`, unless someone else settled it first."""
        async with self._work() as work:
            moved = await work.payments.transition_returning(
                payment_id,
                ["pending"],
                status="completed",
                transaction_id=charge.transaction_id,
                payment_date=utcnow(),
                failure_reason=None,
            )
            won = moved is not None
            payment = moved or await work.payments.get(payment_id)
            assert payment is not None
            if won:
                work.events.record(
                    PaymentCompleted.of(payment), aggregate_id=str(payment.booking_id)
                )
        if won:
            PAYMENTS.labels("completed").inc()
            log.info(
                "payment_completed", payment_id=str(payment_id), booking_id=str(payment.booking_id)
            )
        elif payment.status == "failed":
            # The sweeper gave up on it before the gateway's late success arrived: give it back.
            await self.return_stray_charge(payment, charge)
        return PaymentOut.model_validate(payment)

    async def fail(self, payment_id: uuid.UUID, reason: str) -> PaymentOut:
        """pending → failed with `payment.failed`, unless someone else settled it first."""
        async with self._work() as work:
            moved = await work.payments.transition_returning(
                payment_id, ["pending"], status="failed", failure_reason=reason
            )
            won = moved is not None
            payment = moved or await work.payments.get(payment_id)
            assert payment is not None
            if won:
                work.events.record(
                    PaymentFailed.of(payment, reason), aggregate_id=str(payment.booking_id)
                )
        if won:
            outcome = {"card_declined": "declined", "gateway_timeout": "timeout"}.get(
                reason, reason
            )
            PAYMENTS.labels(outcome).inc()
            log.info("payment_failed", payment_id=str(payment_id), reason=reason)
        return PaymentOut.model_validate(payment)

    async def return_stray_charge(self, payment: Payment, charge: Charge) -> None:
        """Refund, at the gateway, a charge made for a payment recorded as failed."""
        try:
            refund = await self._in_time(
                self.gateway.refund(
                    reference=charge.reference,
                    transaction_id=charge.transaction_id,
                    amount=charge.amount,
                )
            )
        except Exception as exc:
            log.error("stray_charge_refund_failed", payment_id=str(payment.id), error=repr(exc))
            return
        async with self._work() as work:
            await work.payments.transition(
                payment.id, ["failed"], refund_transaction_id=refund.transaction_id
            )
        log.warning("stray_charge_refunded", payment_id=str(payment.id), txn=charge.transaction_id)

    async def announce(self, payment: Payment) -> None:
        """Record the event of a settled payment's state again (reconciliation), unless it has
        changed since it was read: booking's consumers act on state, so a repeat is harmless."""
        async with self._work() as work:
            current = await work.payments.get(payment.id)
            assert current is not None
            if current.status == payment.status:  # unchanged since the check
                event = ANNOUNCEMENTS[current.status].of(current, current.refund_reason)
                work.events.record(event, aggregate_id=str(current.booking_id))

    # -- refunding -------------------------------------------------------------------------

    async def request_refund(self, user: Principal, payment: Payment) -> PaymentOut:
        """The owner (or an admin) asks for the money back: booking approves (409 once the
        ticket is used or its show started), then claim, refund at the gateway, record."""
        if payment.status != "completed":
            raise not_refundable(payment)
        # Asked before the claim: booking's yes withdraws the ticket from the door, so a
        # check-in racing this refund loses. A yes followed by a lost claim (another refund of
        # the same payment won it) leaves nothing wrong: that refund ends the booking as well.
        await self.bookings.approve_refund(payment.booking_id, payment.id, f"Bearer {user.token}")
        return await self.refund(payment.id, reason="requested")

    async def refund(self, payment_id: uuid.UUID, *, reason: str) -> PaymentOut:
        """Claim a completed payment for refund, refund it at the gateway and record it refunded."""
        # Claimed in a short transaction of its own, so the gateway call below holds no lock.
        async with self._work() as work:
            claimed = await work.payments.transition(
                payment_id, ["completed"], status="refunding", refund_reason=reason
            )
            current = await work.payments.get(payment_id)
        if current is None:
            raise PaymentNotFound()
        if not claimed:
            raise not_refundable(current)
        return await self.finish_refund(payment_id)

    async def finish_refund(self, payment_id: uuid.UUID) -> PaymentOut:
        """Refund a claimed (refunding) payment at the gateway and record it refunded."""
        async with self._reading() as payments:
            payment = await payments.get(payment_id)
        assert payment is not None
        if payment.status != "refunding":
            return PaymentOut.model_validate(payment)
        refund = await self._gateway_refund(payment)
        async with self._work() as work:
            payment = await self._mark_refunded(work, payment_id, refund)
        return PaymentOut.model_validate(payment)

    async def refund_in(self, session: AsyncSession, payment_id: uuid.UUID, *, reason: str) -> None:
        """Refund a payment inside an event handler's transaction.

        The handler's transaction already holds the inbox row (on SQLite, the database's one
        write lock), so everything happens on its session; if it rolls back, the redelivery
        refunds again and the gateway answers with the same refund.
        """
        work = Work.on(session)
        await work.payments.transition(
            payment_id, ["completed"], status="refunding", refund_reason=reason
        )
        payment = await work.payments.get(payment_id)
        if payment is None:
            refund_log.warning(
                "refund_of_unknown_payment", payment_id=str(payment_id), reason=reason
            )
            return
        if payment.status != "refunding":
            refund_log.info("refund_not_needed", payment_id=str(payment_id), status=payment.status)
            return
        refund = await self._gateway_refund(payment)
        await self._mark_refunded(work, payment_id, refund)

    async def refund_booking_in(
        self, session: AsyncSession, booking_id: uuid.UUID, *, reason: str
    ) -> None:
        """Refund whatever was charged for a booking (at most one payment), in the handler's
        transaction."""
        charged = await PaymentRepository(session).for_booking(
            booking_id, ["completed", "refunding"]
        )
        if not charged:
            refund_log.info(
                "booking_has_nothing_to_refund", booking_id=str(booking_id), reason=reason
            )
        for payment in charged:
            await self.refund_in(session, payment.id, reason=reason)

    async def _gateway_refund(self, payment: Payment) -> Refund:
        if payment.transaction_id is None:
            raise PaymentGatewayUnavailable("This payment has no gateway transaction to refund")
        try:
            return await self._in_time(
                self.gateway.refund(
                    reference=str(payment.id),
                    transaction_id=payment.transaction_id,
                    amount=payment.amount,
                )
            )
        except Exception as exc:
            # The payment stays `refunding`; the sweeper finishes it when the gateway is back.
            refund_log.warning("gateway_refund_failed", payment_id=str(payment.id), error=repr(exc))
            raise PaymentGatewayUnavailable(
                "The payment gateway did not confirm the refund; it will be retried automatically"
            )

    async def _mark_refunded(self, work: Work, payment_id: uuid.UUID, refund: Refund) -> Payment:
        won = await work.payments.transition(
            payment_id,
            ["refunding"],
            status="refunded",
            refunded_at=utcnow(),
            refund_transaction_id=refund.transaction_id,
        )
        payment = await work.payments.get(payment_id)
        assert payment is not None
        if won:
            work.events.record(
                PaymentRefunded.of(payment, payment.refund_reason),
                aggregate_id=str(payment.booking_id),
            )
            PAYMENTS.labels("refunded").inc()
            refund_log.info(
                "payment_refunded",
                payment_id=str(payment_id),
                booking_id=str(payment.booking_id),
                reason=payment.refund_reason,
            )
        return payment

    # -- sweeping --------------------------------------------------------------------------

    @property
    def stale_after(self) -> dt.timedelta:
        """How old an in-between state must be before no live request can still be finishing
        it."""
        return dt.timedelta(seconds=2 * self.gateway_timeout + 5)

    async def sweep(self, *, now: dt.datetime | None = None) -> SweepReport:
        """Settle every payment stuck in `pending` or `refunding` since before the cut-off:
        ask the gateway what really happened and finish it accordingly. Every step is a
        conditional transition, so several replicas may sweep at once."""
        cutoff = (now or utcnow()) - self.stale_after
        report = SweepReport()
        async with self._reading() as payments:
            stuck = await payments.stale(["pending", "refunding"], cutoff)
        for payment in stuck:
            try:
                if payment.status == "pending":
                    charge = await self.lookup_charge(str(payment.id))
                    if charge is not None:
                        settled = await self.complete(payment.id, charge)
                        if settled.status == "completed":
                            report.completed.append(str(payment.id))
                    else:
                        settled = await self.fail(payment.id, "abandoned")
                        if settled.status == "failed":
                            report.failed.append(str(payment.id))
                else:
                    settled = await self.finish_refund(payment.id)
                    if settled.status == "refunded":
                        report.refunded.append(str(payment.id))
            except AppError as exc:
                sweep_log.warning("sweep_deferred", payment_id=str(payment.id), error=exc.detail)
        if report.completed or report.failed or report.refunded:
            sweep_log.info("payments_swept", **{k: len(v) for k, v in vars(report).items()})
        return report
