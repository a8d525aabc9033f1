"""Every query of the notification service: one repository per aggregate (a notification with
its delivery bookkeeping and dead letters; the booking details it keeps)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from boxoffice.core.repository import RepositoryBase
from boxoffice.notification.models import (
    FAILED,
    PAID_NOTICE,
    PAID_PAIR,
    PENDING,
    SENT,
    BookingDetails,
    MailDeadLetter,
    Notification,
)

# The delivery loop's statements, one or more for every e-mail: built once, their values given
# as parameters (building a statement costs SQLAlchemy more than running it).
_ID = sa.bindparam("notification_id", type_=Notification.id.type)
_NOW = sa.bindparam("now", type_=Notification.next_attempt_at.type)

_DUE = (
    sa.select(Notification.id)
    .where(Notification.status == PENDING, Notification.next_attempt_at <= _NOW)
    .order_by(Notification.next_attempt_at)
    .limit(sa.bindparam("limit", type_=sa.Integer))
)

# One conditional UPDATE is the lock: only one worker's statement matches the row, on SQLite
# and PostgreSQL alike. Pushing next_attempt_at forward is the claim's lease. RETURNING hands
# the row back in the same statement.
_CLAIM = (
    sa.update(Notification)
    .where(Notification.id == _ID, Notification.status == PENDING)
    .where(Notification.next_attempt_at <= _NOW)
    .values(
        next_attempt_at=sa.bindparam("until", type_=Notification.next_attempt_at.type),
        attempts=Notification.attempts + 1,
    )
    .returning(Notification)
    .execution_options(synchronize_session=False)
)

_MARK_SENT = (
    sa.update(Notification)
    .where(Notification.id == _ID, Notification.status == PENDING)
    .values(status=SENT, sent_at=_NOW, next_attempt_at=None, last_error=None)
    .execution_options(synchronize_session=False)
)


class NotificationRepository(RepositoryBase[Notification]):
    """Notifications (by id, by the event that made them, by owner), their delivery
    bookkeeping and their dead letters."""

    model = Notification

    # In-app

    async def by_event(self, event_id: uuid.UUID) -> Notification | None:
        return await self.one_or_none(self.select().where(Notification.event_id == event_id))

    async def get_for_user(
        self, notification_id: uuid.UUID, user_id: uuid.UUID
    ) -> Notification | None:
        return await self.one_or_none(
            self.select().where(Notification.id == notification_id, Notification.user_id == user_id)
        )

    async def list_for_user(
        self, user_id: uuid.UUID, *, limit: int, offset: int, unread_only: bool = False
    ) -> Sequence[Notification]:
        query = self.select().where(Notification.user_id == user_id)
        if unread_only:
            query = query.where(Notification.read_at.is_(None))
        # id breaks ties between notices created in the same instant, so pages never overlap.
        query = query.order_by(Notification.created_at.desc(), Notification.id.desc())
        return await self.all(query.limit(limit).offset(offset))

    async def unread_count(self, user_id: uuid.UUID) -> int:
        count = await self.session.scalar(
            sa.select(sa.func.count())
            .select_from(Notification)
            .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        )
        return int(count or 0)

    async def mark_all_read(self, user_id: uuid.UUID, now: dt.datetime) -> int:
        result = await self.session.execute(
            sa.update(Notification)
            .where(Notification.user_id == user_id, Notification.read_at.is_(None))
            .values(read_at=now)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    # Delivery

    async def due_for_delivery(self, now: dt.datetime, limit: int) -> list[uuid.UUID]:
        rows = await self.session.scalars(_DUE, {"now": now, "limit": limit})
        return list(rows.all())

    async def next_due_at(self) -> dt.datetime | None:
        return await self.session.scalar(
            sa.select(sa.func.min(Notification.next_attempt_at)).where(
                Notification.status == PENDING
            )
        )

    async def claim(
        self, notification_id: uuid.UUID, now: dt.datetime, until: dt.datetime
    ) -> Notification | None:
        """Take one due e-mail for an attempt: the notice as claimed, or None when another
        worker took it first (see `_CLAIM`)."""
        result = await self.session.scalars(
            _CLAIM, {"notification_id": notification_id, "now": now, "until": until}
        )
        return result.one_or_none()

    async def mark_sent(self, notification_id: uuid.UUID, now: dt.datetime) -> bool:
        result = await self.session.execute(
            _MARK_SENT, {"notification_id": notification_id, "now": now}
        )
        return int(result.rowcount) == 1  # type: ignore[attr-defined]

    async def schedule_retry(self, notification_id: uuid.UUID, at: dt.datetime, error: str) -> None:
        await self.session.execute(
            sa.update(Notification)
            .where(Notification.id == notification_id, Notification.status == PENDING)
            .values(next_attempt_at=at, last_error=error)
            .execution_options(synchronize_session=False)
        )

    async def mark_failed(self, notification: Notification, error: str) -> None:
        await self.session.execute(
            sa.update(Notification)
            .where(Notification.id == notification.id, Notification.status == PENDING)
            .values(status=FAILED, next_attempt_at=None, last_error=error)
            .execution_options(synchronize_session=False)
        )
        self.session.add(
            MailDeadLetter(
                notification_id=notification.id,
                recipient=notification.email or "",
                attempts=notification.attempts,
                error=error,
            )
        )
        await self.session.flush()

    async def dead_letters(self, notification_id: uuid.UUID) -> Sequence[MailDeadLetter]:
        rows = await self.session.scalars(
            sa.select(MailDeadLetter).where(MailDeadLetter.notification_id == notification_id)
        )
        return rows.all()

    async def write_paid_notice(self, values: dict[str, Any]) -> uuid.UUID | None:
        """Insert a booking's purchase notice (`values` names every column), or, for the
        confirmation, turn the payment's notice into the confirmation's; the id written, or
        None when nothing was (the confirmation's notice is there already, or the event is a
        repeat).

        One statement in which the partial unique index decides: the pair's two events may
        be handled at the same moment (two consumers, or two batches), and whichever commits
        second meets the first's row in the index, not a read made before it committed.
        Which of the two it was, the caller tells by the returned row's event id."""
        statement = _UPSERTS[_dialect(self.session)].paid_notice
        return (await self.session.execute(statement, values)).scalar_one_or_none()


# What the confirmation's notice takes over from the payment's: everything it says and its
# delivery (its e-mail carries the e-ticket); the row's id, owner, event and age stay.
_PROMOTED = (
    "type",
    "subject",
    "message",
    "context",
    "email",
    "status",
    "sent_at",
    "next_attempt_at",
    "attempts",
)


def _dialect(session: Any) -> str:
    """The session's database: "postgresql" or "sqlite"."""
    bind = session.bind
    return "postgresql" if bind is not None and bind.dialect.name == "postgresql" else "sqlite"


class _Upserts:
    """The service's two upserts for one database, built once: their values come as
    parameters. Built per call they cost the notification service ~6 % of its CPU in a flash
    sale (py-spy), building the statement and its cache key again for every event."""

    def __init__(self, dialect: Any) -> None:
        notifications = Notification.__table__
        insert = dialect.insert(notifications)
        excluded = insert.excluded
        self.paid_notice = insert.on_conflict_do_update(
            index_elements=[notifications.c.booking_id],
            index_where=sa.text(PAID_NOTICE),
            set_={column: excluded[column] for column in _PROMOTED},
            where=sa.and_(notifications.c.type == PAID_PAIR[0], excluded.type == PAID_PAIR[1]),
        ).returning(notifications.c.event_id)

        details = BookingDetails.__table__
        insert = dialect.insert(details)
        self.booking_details = insert.on_conflict_do_update(
            index_elements=[details.c.booking_id],
            set_={k: insert.excluded[k] for k in _DETAILS if k != "booking_id"},
        )


# The columns of a booking's details, all of them set by every upsert.
_DETAILS = ("booking_id", "booking_code", "user_id", "details", "updated_at")

_UPSERTS = {"postgresql": _Upserts(postgresql), "sqlite": _Upserts(sqlite)}


class BookingDetailsRepository(RepositoryBase[BookingDetails]):
    """What the service knows of each booking (from `booking.*` events), by booking id: the
    facts a payment notice names, since payment events do not carry them."""

    model = BookingDetails

    async def remember(
        self,
        booking_id: uuid.UUID,
        *,
        booking_code: str | None,
        user_id: uuid.UUID | None,
        details: dict[str, Any],
        now: dt.datetime,
    ) -> None:
        """Insert or refresh a booking's details (two events may race; the last one wins)."""
        values = {
            "booking_id": booking_id,
            "booking_code": booking_code,
            "user_id": user_id,
            "details": details,
            "updated_at": now,
        }
        await self.session.execute(_UPSERTS[_dialect(self.session)].booking_details, values)
