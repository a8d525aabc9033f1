"""Reading payments: owners see theirs, admins see all."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.auth import Principal
from boxoffice.payment.errors import PaymentNotFound
from boxoffice.payment.refunds import visible_to
from boxoffice.payment.repository import PaymentRepository
from boxoffice.payment.schemas import PaymentOut


async def list_payments(
    session: AsyncSession,
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
    rows = await PaymentRepository(session).page(
        user_id=owner, booking_id=booking_id, status=status, limit=limit, offset=offset
    )
    return [PaymentOut.model_validate(row) for row in rows]


async def get_payment(session: AsyncSession, user: Principal, payment_id: uuid.UUID) -> PaymentOut:
    """One payment; someone else's is a 404, as if it did not exist."""
    payment = await PaymentRepository(session).get(payment_id)
    if not visible_to(payment, user):
        raise PaymentNotFound()
    return PaymentOut.model_validate(payment)
