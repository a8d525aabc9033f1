"""Every query of the payment service."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.db import utcnow
from boxoffice.payment.models import Payment


class PaymentRepository:
    """Reads and guarded writes of payments on one session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, payment_id: uuid.UUID) -> Payment | None:
        return await self.session.get(Payment, payment_id, populate_existing=True)

    async def find_by_key(self, user_id: uuid.UUID, idempotency_key: str) -> Payment | None:
        query = sa.select(Payment).where(
            Payment.user_id == user_id, Payment.idempotency_key == idempotency_key
        )
        result = await self.session.execute(query.execution_options(populate_existing=True))
        return result.scalar_one_or_none()

    async def for_booking(
        self, booking_id: uuid.UUID, statuses: Sequence[str]
    ) -> Sequence[Payment]:
        query = (
            sa.select(Payment)
            .where(Payment.booking_id == booking_id, Payment.status.in_(statuses))
            .order_by(Payment.created_at)
        )
        return (await self.session.execute(query)).scalars().all()

    async def add(self, payment: Payment) -> Payment:
        """Insert now, so a unique constraint violation surfaces here as IntegrityError."""
        self.session.add(payment)
        await self.session.flush()
        return payment

    async def transition(
        self, payment_id: uuid.UUID, from_statuses: Sequence[str], **values: Any
    ) -> bool:
        """Move a payment out of one of `from_statuses`; False when it was no longer there.

        The status test sits in the UPDATE itself, so of two racers exactly one wins.
        """
        statement = (
            sa.update(Payment)
            .where(Payment.id == payment_id, Payment.status.in_(from_statuses))
            .values(updated_at=utcnow(), **values)
            .execution_options(synchronize_session=False)
        )
        result = await self.session.execute(statement)
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def transition_returning(
        self, payment_id: uuid.UUID, from_statuses: Sequence[str], **values: Any
    ) -> Payment | None:
        """`transition`, answering with the moved payment (None when it was no longer in one
        of `from_statuses`): one statement instead of an update and a read."""
        statement = (
            sa.update(Payment)
            .where(Payment.id == payment_id, Payment.status.in_(from_statuses))
            .values(updated_at=utcnow(), **values)
            .returning(Payment)
            .execution_options(synchronize_session=False, populate_existing=True)
        )
        return (await self.session.scalars(statement)).one_or_none()

    async def page(
        self,
        *,
        user_id: uuid.UUID | None,
        booking_id: uuid.UUID | None,
        status: str | None,
        limit: int,
        offset: int,
    ) -> Sequence[Payment]:
        query = sa.select(Payment)
        if user_id is not None:
            query = query.where(Payment.user_id == user_id)
        if booking_id is not None:
            query = query.where(Payment.booking_id == booking_id)
        if status is not None:
            query = query.where(Payment.status == status)
        query = query.order_by(Payment.created_at.desc(), Payment.id).limit(limit).offset(offset)
        return (await self.session.execute(query)).scalars().all()

    async def stale(
        self, statuses: Sequence[str], updated_before: dt.datetime, limit: int = 100
    ) -> Sequence[Payment]:
        """Payments sitting in an in-between state since before `updated_before`."""
        query = (
            sa.select(Payment)
            .where(Payment.status.in_(statuses), Payment.updated_at < updated_before)
            .order_by(Payment.updated_at)
            .limit(limit)
        )
        return (await self.session.execute(query)).scalars().all()

    async def after(
        self, statuses: Sequence[str], last_id: uuid.UUID | None, limit: int = 200
    ) -> Sequence[Payment]:
        """A page of payments in `statuses` ordered by id (the reconciler walks them all)."""
        query = sa.select(Payment).where(Payment.status.in_(statuses))
        if last_id is not None:
            query = query.where(Payment.id > last_id)
        return (await self.session.execute(query.order_by(Payment.id).limit(limit))).scalars().all()
