"""The rules of the notification service: who sees which notice, what each event creates."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.app import ServiceContext
from boxoffice.core.auth import Principal
from boxoffice.core.db import utcnow
from boxoffice.notification import content
from boxoffice.notification.delivery import DeliveryNudge
from boxoffice.notification.errors import NotificationNotFound
from boxoffice.notification.metrics import NOTIFICATIONS
from boxoffice.notification.models import PAID_PAIR, PENDING, SENT, Notification
from boxoffice.notification.repository import BookingDetailsRepository, NotificationRepository
from boxoffice.notification.schemas import SendRequest, valid_address
from boxoffice.notification.settings import NotificationSettings

log = structlog.get_logger("boxoffice.notification")


def _code(booking_code: str | None) -> str | None:
    """A booking code as the column keeps it (an event's odd value cut to fit)."""
    return booking_code[:32] if booking_code else None


class NotificationService:
    """Creating, listing and reading notices; never commits (the caller's session does).

    A notice to e-mail asks `delivery` to wake the delivery loop once the caller commits.
    """

    def __init__(
        self,
        notifications: NotificationRepository,
        bookings: BookingDetailsRepository,
        settings: NotificationSettings,
        delivery: DeliveryNudge,
    ) -> None:
        self.notifications = notifications
        self.bookings = bookings
        self.settings = settings
        self.delivery = delivery

    @classmethod
    def from_context(cls, ctx: ServiceContext, session: AsyncSession) -> NotificationService:
        return cls(
            NotificationRepository(session),
            BookingDetailsRepository(session),
            ctx.settings,
            DeliveryNudge.from_context(ctx, session),
        )

    async def _create(
        self,
        *,
        user_id: uuid.UUID,
        type_: str,
        subject: str,
        message: str,
        email: str | None,
        context: dict[str, Any],
        booking_id: uuid.UUID | None = None,
        booking_code: str | None = None,
        event_id: uuid.UUID | None = None,
    ) -> Notification:
        now = utcnow()
        to_mail = email is not None
        notification = Notification(
            user_id=user_id,
            type=type_,
            subject=subject,
            message=message,
            email=email,
            context=context,
            booking_id=booking_id,
            booking_code=_code(booking_code),
            event_id=event_id,
            # A notice with nothing to e-mail is delivered the moment it is in the inbox.
            status=PENDING if to_mail else SENT,
            sent_at=None if to_mail else now,
            next_attempt_at=now if to_mail else None,
            attempts=0,
            created_at=now,
        )
        await self.notifications.add(notification)
        NOTIFICATIONS.labels(type_, "created").inc()
        if to_mail:
            self.delivery.after_commit()
        return notification

    async def send(self, request: SendRequest) -> Notification:
        """A notice written by an admin (or an internal caller) for one user."""
        return await self._create(
            user_id=request.user_id,
            type_=request.type,
            subject=request.subject,
            message=request.message,
            email=request.email,
            context={"template": "general", "booking_code": request.booking_code},
            booking_id=request.booking_id,
            booking_code=request.booking_code,
        )

    async def list_for(
        self, user: Principal, *, limit: int, offset: int, unread_only: bool
    ) -> tuple[Sequence[Notification], int]:
        """The caller's own notices, newest first, with how many are unread."""
        items = await self.notifications.list_for_user(
            user.user_id, limit=limit, offset=offset, unread_only=unread_only
        )
        return items, await self.notifications.unread_count(user.user_id)

    async def unread_count(self, user: Principal) -> int:
        return await self.notifications.unread_count(user.user_id)

    async def own_notification(self, user: Principal, notification_id: uuid.UUID) -> Notification:
        """One of the caller's own notices; someone else's is not found (404), as is none."""
        notification = await self.notifications.get_for_user(notification_id, user.user_id)
        if notification is None:
            raise NotificationNotFound()
        return notification

    async def mark_read(self, notification: Notification) -> Notification:
        """Mark a notice read; again is fine."""
        if notification.read_at is None:
            notification.read_at = utcnow()
            await self.notifications.flush()
        return notification

    async def mark_all_read(self, user: Principal) -> int:
        return await self.notifications.mark_all_read(user.user_id, utcnow())

    # From events

    def _duplicate(self, event_id: uuid.UUID, name: str) -> None:
        NOTIFICATIONS.labels(name, "duplicate").inc()
        log.info("notification_duplicate_event", event_id=str(event_id), event=name)

    async def _paid_notice(
        self,
        *,
        user_id: uuid.UUID,
        booking_id: uuid.UUID,
        event_id: uuid.UUID,
        name: str,
        notice: content.Notice,
        email: str | None,
    ) -> uuid.UUID | None:
        """A paid booking is one notice, not two: `payment.completed` and `booking.confirmed`
        arrive in either order, and the confirmation (with the e-ticket e-mail) wins. The
        first inserts the notice; the confirmation after the payment takes it over; the
        payment after the confirmation (or a repeat) writes nothing. One statement, in which
        the unique index decides (`NotificationRepository.write_paid_notice`); it replaced a
        lock, a read and a write, three round trips for each of every sale's two events."""
        now = utcnow()
        to_mail = email is not None
        written = await self.notifications.write_paid_notice(
            {
                "id": uuid.uuid4(),
                "user_id": user_id,
                "type": name,
                "subject": notice.subject,
                "message": notice.message,
                "email": email,
                "context": {**notice.context, "template": name.replace(".", "_")},
                "booking_id": booking_id,
                "booking_code": _code(notice.context.get("booking_code")),
                "event_id": event_id,
                "status": PENDING if to_mail else SENT,
                "sent_at": None if to_mail else now,
                "next_attempt_at": now if to_mail else None,
                "attempts": 0,
                "last_error": None,
                "read_at": None,
                "created_at": now,
            }
        )
        if written is None:
            NOTIFICATIONS.labels(name, "merged").inc()
            return None
        NOTIFICATIONS.labels(name, "created" if written == event_id else "merged").inc()
        if to_mail:
            self.delivery.after_commit()
        return written

    async def remember_booking(
        self, booking_id: uuid.UUID | None, user_id: uuid.UUID | None, facts: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """Keep a booking's facts from a `booking.*` event; returns what is now known of it."""
        if booking_id is None:
            return None
        known = await self.bookings.get(booking_id)
        details = dict(known.details) if known else {}
        details.update(
            {k: facts[k] for k in content.BOOKING_FIELDS if facts.get(k) not in (None, "")}
        )
        owner = user_id or (known.user_id if known else None)
        if known is not None and known.details == details and known.user_id == owner:
            return details  # every later event of a booking repeats its facts: nothing to write
        await self.bookings.remember(
            booking_id,
            booking_code=str(details.get("booking_code") or "") or None,
            user_id=owner,
            details=details,
            now=utcnow(),
        )
        return details

    async def notify(
        self,
        event_id: uuid.UUID,
        name: str,
        *,
        user_id: uuid.UUID,
        booking_id: uuid.UUID | None,
        user_email: Any,
        facts: Mapping[str, Any],
    ) -> Notification | None:
        """The one notice an event creates; None when this event already created it, or when
        it is one of a paid booking's pair (written by one statement, not loaded). `facts`:
        what the event tells of the booking and payment, read as content.compose reads them
        (a missing or odd one is left out)."""
        paired = name in PAID_PAIR and booking_id is not None
        # A paid booking's notice is written by one statement below that also ignores a repeat
        # of the event: no query first for the two events of every sale.
        if not paired and await self.notifications.by_event(event_id) is not None:
            self._duplicate(event_id, name)
            return None
        if name.startswith("booking."):
            known = await self.remember_booking(booking_id, user_id, facts)
        else:
            row = await self.bookings.get(booking_id) if booking_id else None
            known = row.details if row else None
        notice = content.compose(name, facts, known)
        email = None if name in content.IN_APP_ONLY else valid_address(user_email)
        if paired:
            assert booking_id is not None
            await self._paid_notice(
                user_id=user_id,
                booking_id=booking_id,
                event_id=event_id,
                name=name,
                notice=notice,
                email=email,
            )
            return None
        return await self._create(
            user_id=user_id,
            type_=name,
            subject=notice.subject,
            message=notice.message,
            email=email,
            context={**notice.context, "template": name.replace(".", "_")},
            booking_id=booking_id,
            booking_code=notice.context.get("booking_code"),
            event_id=event_id,
        )
