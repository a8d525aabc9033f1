"""Payment routes (design 4.4): thin; the rules live in service.py (and reconcile.py)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from boxoffice.core.auth import AdminUser, CurrentUser
from boxoffice.core.errors import NotAuthenticated, PermissionDenied, ServiceUnavailable, responses
from boxoffice.core.pagination import Limit, Offset
from boxoffice.payment import errors
from boxoffice.payment.deps import PaymentById, Reconciliation, Service
from boxoffice.payment.schemas import PaymentOut, PaymentStatus, ProcessPayment, ReconcileReport

router = APIRouter(tags=["payments"])


@router.post(
    "/process",
    status_code=201,
    response_model=PaymentOut,
    responses=responses(
        errors.IdempotencyKeyMissing,
        NotAuthenticated,
        errors.PaymentDeclined,
        errors.BookingNotFound,
        errors.BookingAlreadyPaid,
        errors.IdempotencyKeyReused,
        ServiceUnavailable,
        errors.PaymentGatewayTimeout,
    ),
)
async def process(
    body: ProcessPayment,
    user: CurrentUser,
    service: Service,
    response: Response,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="Client-chosen key (per user): the same key always yields the same payment",
        ),
    ] = None,
) -> PaymentOut:
    """Pay a pending booking once: 201 with the payment; a replay answers as the first request.

    No request session (`DbSession`) here: the payment row must be committed before the gateway
    is called, and its outcome committed after, so the service runs its own short transactions.
    """
    outcome = await service.process(user, idempotency_key, body)
    if outcome.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return outcome.payment


@router.get(
    "/payments",
    response_model=list[PaymentOut],
    responses=responses(NotAuthenticated),
)
async def payments(
    user: CurrentUser,
    service: Service,
    booking_id: uuid.UUID | None = None,
    status: PaymentStatus | None = None,
    user_id: Annotated[uuid.UUID | None, Query(description="Admins only: one user's")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[PaymentOut]:
    """The caller's payment history, newest first (admins: everyone's)."""
    return await service.payments(
        user,
        booking_id=booking_id,
        status=status,
        user_id=user_id,
        limit=limit,
        offset=offset,
    )


@router.get(
    "/payments/{payment_id}",
    response_model=PaymentOut,
    responses=responses(NotAuthenticated, errors.PaymentNotFound),
)
async def payment(payment: PaymentById) -> PaymentOut:
    """One of the caller's payments (admins: any)."""
    return PaymentOut.model_validate(payment)


@router.post(
    "/payments/{payment_id}/refund",
    response_model=PaymentOut,
    responses=responses(
        NotAuthenticated,
        errors.PaymentNotFound,
        errors.PaymentAlreadyRefunded,
        errors.PaymentGatewayUnavailable,
    ),
)
async def refund(payment: PaymentById, user: CurrentUser, service: Service) -> PaymentOut:
    """Give a completed payment's money back; its booking is then cancelled and its seats freed.

    Like `/process`, it runs its own short transactions around the gateway call.
    """
    return await service.request_refund(user, payment)


@router.post(
    "/reconcile",
    response_model=ReconcileReport,
    responses=responses(NotAuthenticated, PermissionDenied, ServiceUnavailable),
)
async def reconcile_payments(
    admin: AdminUser, reconciler: Reconciliation, dry_run: bool = False
) -> ReconcileReport:
    """Admins: find payments whose booking disagrees with them and fix them (unless dry run)."""
    # Bookings are asked about with the admin's own token: admins may read every booking.
    return await reconciler.reconcile(f"Bearer {admin.token}", fix=not dry_run)
