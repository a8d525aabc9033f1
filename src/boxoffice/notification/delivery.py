"""The e-mail delivery loop: outside any request or event transaction, it claims due
notifications one at a time, hands each to the mail transport, and records the outcome:
`sent` once the server accepted it, a retry with exponential backoff when it could not,
and after the last attempt (or a permanent refusal) `failed` with a dead-letter record."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import structlog
from sqlalchemy import event as sa_event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential,
)

from boxoffice.core.app import ServiceContext
from boxoffice.core.db import Database, utcnow
from boxoffice.core.waits import wait_set
from boxoffice.notification.config import MailSettings
from boxoffice.notification.mail import (
    EmlFolderTransport,
    MailTransport,
    PermanentMailError,
    SmtpTransport,
    build_message,
)
from boxoffice.notification.metrics import NOTIFICATIONS
from boxoffice.notification.repository import NotificationRepository

log = structlog.get_logger("boxoffice.notification.delivery")

OUTBOX_FOLDER = "outbox-mail"


def mail_settings(ctx: ServiceContext) -> MailSettings:
    settings = ctx.state.get("mail_settings")
    if settings is None:
        settings = ctx.state["mail_settings"] = MailSettings()
    return settings  # type: ignore[no-any-return]


def wake_event(ctx: ServiceContext) -> asyncio.Event:
    """Set it to make the loop look for due mail now rather than at its next poll."""
    event = ctx.state.get("mail_wake")
    if event is None:
        event = ctx.state["mail_wake"] = asyncio.Event()
    return event  # type: ignore[no-any-return]


class DeliveryNudge:
    """Wakes the delivery loop once the caller's transaction has committed (not before: until
    then the loop could not see the new e-mail, and after a rollback there is none)."""

    def __init__(self, session: AsyncSession, wake: asyncio.Event) -> None:
        self.session = session
        self.wake = wake

    @classmethod
    def from_context(cls, ctx: ServiceContext, session: AsyncSession) -> DeliveryNudge:
        return cls(session, wake_event(ctx))

    def after_commit(self) -> None:
        """Wake the loop when this session's transaction commits."""
        wake = self.wake
        sa_event.listen(self.session.sync_session, "after_commit", lambda _: wake.set(), once=True)


def make_transport(ctx: ServiceContext) -> MailTransport:
    """SMTP when SMTP_URL is set; otherwise `.eml` files under the data folder."""
    if ctx.settings.smtp_url:
        return SmtpTransport(ctx.settings.smtp_url, timeout=mail_settings(ctx).smtp_timeout_seconds)
    folder = ctx.settings.data_dir / OUTBOX_FOLDER
    if ctx.settings.distributed:
        log.warning("smtp_url_missing", writing_to=str(folder))
    return EmlFolderTransport(folder)


class Deliverer:
    """Delivers due notifications of one database through one transport."""

    def __init__(
        self, db: Database, transport: MailTransport, sender: str, settings: MailSettings
    ) -> None:
        self.db = db
        self.transport = transport
        self.sender = sender
        self.settings = settings

    async def deliver_due(self) -> int:
        """One pass: try every notification that is due; returns how many were due."""
        async with self.db.reading() as session:
            due = await NotificationRepository(session).due_for_delivery(
                utcnow(), self.settings.batch_size
            )
        for notification_id in due:
            await self.deliver(notification_id)
        return len(due)

    async def deliver(self, notification_id: uuid.UUID) -> None:
        """One attempt at one notification, unless another worker claimed it first."""
        now = utcnow()
        # The claim and, below, the record of a sent e-mail are one statement each: no
        # BEGIN and COMMIT around them (four round trips fewer for every e-mail).
        async with self.db.one_statement() as session:
            until = now + dt.timedelta(seconds=self.settings.claim_seconds)
            notification = await NotificationRepository(session).claim(notification_id, now, until)
        if notification is None:
            return
        # The claim is committed before the server is contacted: while this attempt runs, no
        # other worker picks the same e-mail, and no database transaction waits on SMTP.
        try:
            await self.transport.send(build_message(notification, self.sender))
        except PermanentMailError as exc:
            await self._give_up(notification_id, f"refused: {exc}")
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:2000]
            if notification.attempts >= self.settings.max_attempts:
                await self._give_up(notification_id, f"{notification.attempts} attempts; {error}")
            else:
                await self._retry_later(notification_id, notification.attempts, error)
        else:
            await self._record_sent(notification_id)
            NOTIFICATIONS.labels(notification.type, "sent").inc()
            log.info("mail_sent", notification_id=str(notification_id), type=notification.type)

    async def _record_sent(self, notification_id: uuid.UUID) -> None:
        """The server took the e-mail: that must reach the database, or it is sent again.

        Only this process knows it was sent, so a database that is away for a moment (a
        restart, a failover) is waited out here, for as long as the claim keeps other workers
        off this e-mail. Giving up at the first error left the notice claimed and `pending`,
        and it went out a second time once the claim lapsed (the fault suite's PostgreSQL
        restart during an SMTP exchange, every time).
        """
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type((SQLAlchemyError, OSError)),
            wait=wait_exponential(multiplier=0.1, max=1.0),
            stop=stop_after_delay(self.settings.claim_seconds),
            before_sleep=lambda state: log.warning(
                "mail_sent_not_yet_recorded",
                notification_id=str(notification_id),
                error=repr(state.outcome.exception() if state.outcome else None),
            ),
            reraise=True,
        ):
            with attempt:
                async with self.db.one_statement() as session:
                    await NotificationRepository(session).mark_sent(notification_id, utcnow())

    async def _retry_later(self, notification_id: uuid.UUID, attempts: int, error: str) -> None:
        delay = self.settings.backoff(attempts)
        async with self.db.sessionmaker() as session, session.begin():
            repo = NotificationRepository(session)
            await repo.schedule_retry(
                notification_id, utcnow() + dt.timedelta(seconds=delay), error
            )
            notification = await repo.get(notification_id)
        kind = notification.type if notification else "unknown"
        NOTIFICATIONS.labels(kind, "retried").inc()
        log.warning(
            "mail_retry",
            notification_id=str(notification_id),
            attempts=attempts,
            retry_in=delay,
            error=error,
        )

    async def _give_up(self, notification_id: uuid.UUID, error: str) -> None:
        async with self.db.sessionmaker() as session, session.begin():
            repo = NotificationRepository(session)
            notification = await repo.get(notification_id)
            if notification is None:
                return
            await repo.mark_failed(notification, error)
        NOTIFICATIONS.labels(notification.type, "failed").inc()
        log.error(
            "mail_dead_lettered",
            notification_id=str(notification_id),
            recipient=notification.email,
            attempts=notification.attempts,
            error=error,
        )


async def delivery_loop(ctx: ServiceContext) -> None:
    """The background task: deliver what is due, then wait for a nudge or the next poll."""
    settings = mail_settings(ctx)
    deliverer = Deliverer(ctx.db, make_transport(ctx), ctx.settings.mail_from, settings)
    wake = wake_event(ctx)
    while True:
        wake.clear()
        due = await deliverer.deliver_due()
        if due >= settings.batch_size:
            continue  # more may be waiting: keep going without a pause
        await wait_set(wake, settings.poll_seconds)
