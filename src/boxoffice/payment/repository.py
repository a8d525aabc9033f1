"""Every query of the payment service: `PaymentRepository`, the one aggregate's repository."""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from boxoffice.core.db import utcnow
from boxoffice.core.repository import RepositoryBase
from boxoffice.payment.models import Payment

# Every payment first looks for its key. Built once: building a statement costs SQLAlchemy more
# than running it (py-spy in a flash sale).
_BY_KEY = (
    sa.select(Payment)
    .where(
        Payment.user_id == sa.bindparam("user_id", type_=Payment.user_id.type),
        Payment.idempotency_key
        == sa.bindparam("idempotency_key", type_=Payment.idempotency_key.type),
    )
    .limit(1)
    .execution_options(populate_existing=True)
)


@functools.lru_cache(maxsize=32)
def _transition(
    from_statuses: tuple[str, ...], columns: tuple[str, ...], *, returning: bool
) -> Any:
    """A guarded UPDATE of one payment, one per shape, its values as parameters: `payment_id`
    and `set_<column>` (`updated_at` always)."""
    table = Payment.__table__
    values = {key: sa.bindparam(f"set_{key}", type_=table.c[key].type) for key in columns}
    values["updated_at"] = sa.bindparam("set_updated_at", type_=table.c.updated_at.type)
    statement = (
        sa.update(Payment)
        .where(
            Payment.id == sa.bindparam("payment_id", type_=Payment.id.type),
            Payment.status.in_(from_statuses),
        )
        .values(values)
    )
    if returning:
        return statement.returning(Payment).execution_options(
            synchronize_session=False, populate_existing=True
        )
    return statement.execution_options(synchronize_session=False)


def _parameters(payment_id: uuid.UUID, values: dict[str, Any]) -> dict[str, Any]:
    parameters = {f"set_{key}": value for key, value in values.items()}
    parameters.update(payment_id=payment_id, set_updated_at=utcnow())
    return parameters


class PaymentRepository(RepositoryBase[Payment]):
    """Reads and guarded writes of payments on one session.

    Reads refresh rows already in the session (`populate_existing`): a status is moved by a
    conditional UPDATE that bypasses the session's objects, and a read after it must see it.
    """

    model = Payment

    async def get(self, id_: Any, *, for_update: bool = False) -> Payment | None:
        return await self.session.get(
            Payment, id_, populate_existing=True, with_for_update=for_update
        )

    async def find_by_key(self, user_id: uuid.UUID, idempotency_key: str) -> Payment | None:
        result = await self.session.scalars(
            _BY_KEY, {"user_id": user_id, "idempotency_key": idempotency_key}
        )
        return result.first()

    async def for_booking(
        self, booking_id: uuid.UUID, statuses: Sequence[str]
    ) -> Sequence[Payment]:
        query = (
            self.select()
            .where(Payment.booking_id == booking_id, Payment.status.in_(statuses))
            .order_by(Payment.created_at)
        )
        return await self.all(query)

    async def transition(
        self, payment_id: uuid.UUID, from_statuses: Sequence[str], **values: Any
    ) -> bool:
        """Move a payment out of one of `from_statuses`; False when it was no longer there.

        The status test sits in the UPDATE itself, so of two racers exactly one wins.
        """
        statement = _transition(tuple(from_statuses), tuple(values), returning=False)
        result = await self.session.execute(statement, _parameters(payment_id, values))
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def transition_returning(
        self, payment_id: uuid.UUID, from_statuses: Sequence[str], **values: Any
    ) -> Payment | None:
        """`transition`, answering with the moved payment (None when it was no longer in one
        of `from_statuses`): one statement instead of an update and a read."""
        statement = _transition(tuple(from_statuses), tuple(values), returning=True)
        result = await self.session.scalars(statement, _parameters(payment_id, values))
        return result.one_or_none()

    async def page(
        self,
        *,
        user_id: uuid.UUID | None,
        booking_id: uuid.UUID | None,
        status: str | None,
        limit: int,
        offset: int,
    ) -> Sequence[Payment]:
        query = self.select()
        if user_id is not None:
            query = query.where(Payment.user_id == user_id)
        if booking_id is not None:
            query = query.where(Payment.booking_id == booking_id)
        if status is not None:
            query = query.where(Payment.status == status)
        query = query.order_by(Payment.created_at.desc(), Payment.id).limit(limit).offset(offset)
        return await self.all(query)

    async def stale(
        self, statuses: Sequence[str], updated_before: dt.datetime, limit: int = 100
    ) -> Sequence[Payment]:
        """Payments sitting in an in-between state since before `updated_before`."""
        query = (
            self.select()
            .where(Payment.status.in_(statuses), Payment.updated_at < updated_before)
            .order_by(Payment.updated_at)
            .limit(limit)
        )
        return await self.all(query)

    async def after(
        self, statuses: Sequence[str], last_id: uuid.UUID | None, limit: int = 200
    ) -> Sequence[Payment]:
        """A page of payments in `statuses` ordered by id (the reconciler walks them all)."""
        query = self.select().where(Payment.status.in_(statuses))
        if last_id is not None:
            query = query.where(Payment.id > last_id)
        return await self.all(query.order_by(Payment.id).limit(limit))
