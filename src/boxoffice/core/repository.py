"""`RepositoryBase`: the small typed base of every repository (one per aggregate).

A repository is the only place a service queries its database. It holds the request's (or the
consumer's) session and never commits: the caller's unit of work does.

    class BookingRepository(RepositoryBase[Booking]):
        model = Booking

        async def by_code(self, code: str) -> Booking | None:
            return await self.one_or_none(self.select().where(Booking.booking_code == code))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Generic, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase

ModelT = TypeVar("ModelT", bound=DeclarativeBase)


class RepositoryBase(Generic[ModelT]):
    """Get, add, flush, select and count rows of one model, on the caller's session."""

    model: ClassVar[type[Any]]

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def select(self) -> sa.Select[tuple[ModelT]]:
        return sa.select(self.model)

    async def get(self, id_: Any, *, for_update: bool = False) -> ModelT | None:
        """The row with this primary key, or None; `for_update` locks it (PostgreSQL)."""
        return await self.session.get(self.model, id_, with_for_update=for_update)  # type: ignore[no-any-return]

    async def add(self, row: ModelT) -> ModelT:
        """Insert and flush (constraints decide now, inside the caller's transaction)."""
        self.session.add(row)
        await self.session.flush()
        return row

    async def flush(self) -> None:
        """Write the changes made to loaded rows now: constraints decide inside the caller's
        transaction, and what the caller answers shows the stored values."""
        await self.session.flush()

    async def one_or_none(self, statement: sa.Select[Any]) -> ModelT | None:
        """The first row `statement` (a select of the model) finds, or None."""
        return cast("ModelT | None", (await self.session.scalars(statement.limit(1))).first())

    async def all(self, statement: sa.Select[Any]) -> Sequence[ModelT]:
        return cast("Sequence[ModelT]", (await self.session.scalars(statement)).all())

    async def count(self, statement: sa.Select[Any] | None = None) -> int:
        """Rows of the model (or of `statement`, a select of it)."""
        base = statement if statement is not None else self.select()
        counted = sa.select(sa.func.count()).select_from(base.order_by(None).subquery())
        return int((await self.session.execute(counted)).scalar_one())
