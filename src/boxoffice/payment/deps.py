"""Dependencies of the payment routes: the service, its reconciler and a payment by its path id."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends

from boxoffice.core.app import Context
from boxoffice.core.auth import CurrentUser
from boxoffice.payment.models import Payment
from boxoffice.payment.reconcile import Reconciler
from boxoffice.payment.service import PaymentService


async def _service(ctx: Context) -> PaymentService:
    return PaymentService.from_context(ctx)


Service = Annotated[PaymentService, Depends(_service)]
"""The payment service. No request session (`DbSession`) under it: the payment row must be
committed before the gateway is called and its outcome after, so it runs its own short
transactions (see PaymentService)."""


async def _reconciler(ctx: Context) -> Reconciler:
    return Reconciler.from_context(ctx)


Reconciliation = Annotated[Reconciler, Depends(_reconciler)]


async def _payment_by_id(payment_id: uuid.UUID, user: CurrentUser, service: Service) -> Payment:
    return await service.payment_for(user, payment_id)


PaymentById = Annotated[Payment, Depends(_payment_by_id)]
"""The payment the path names, if it is the caller's (admins: any); 404 otherwise, as if it did
not exist (staff see only their own payments)."""
