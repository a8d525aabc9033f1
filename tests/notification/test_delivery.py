"""E-mail delivery against a real SMTP server (aiosmtpd): it survives the server being down,
gives up after bounded attempts (or at once on a permanent refusal) with a dead letter, sends
each mail exactly once however many workers race, and without SMTP_URL writes `.eml` files."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import uuid

import pytest

from boxoffice.core.db import Database, utcnow
from boxoffice.notification import delivery
from boxoffice.notification.config import MailSettings
from boxoffice.notification.delivery import Deliverer
from boxoffice.notification.mail import SmtpTransport
from boxoffice.notification.models import MailDeadLetter, Notification
from boxoffice.notification.schemas import SendRequest
from boxoffice.notification.service import NotificationService
from tests.notification.conftest import (
    booking_payload,
    eventually,
    make_event,
    notices,
    notification_db,
    only_notice,
    parts,
    payment_payload,
    publish,
    rows,
)
from tests.servers import TcpProxy

ALICE_MAIL = "alice@cinema-fan.example"


def notification_ctx(api):
    """The notification service's context in the running system (to build its service)."""
    return api.app.state.service_apps["notification"].state.ctx


async def test_mail_sent_while_smtp_is_down_arrives_when_it_returns(system, smtp, token_for):
    alice = uuid.uuid4()
    async with system() as api:  # the SMTP port is closed: the server is down
        await publish(api, make_event("booking.confirmed", booking_payload(alice, ALICE_MAIL)))

        async def failed_twice():
            found = await rows(api, Notification, Notification.user_id == alice)
            return found and found[0].attempts >= 2 and found[0].status == "pending"

        await eventually(failed_twice)
        [note] = await notices(api, token_for(user_id=alice))
        assert note["status"] == "pending" and note["sent_at"] is None

        smtp.start()
        mail = await eventually(lambda: smtp.to(ALICE_MAIL))
        assert "BK7Q2M9X" in parts(mail[0])["plain"]
        sent = await eventually(
            lambda: only_notice(api, token_for(user_id=alice), "booking.confirmed", status="sent")
        )
        assert sent["sent_at"] is not None
        assert len(smtp.to(ALICE_MAIL)) == 1


async def test_mail_is_dead_lettered_after_bounded_attempts(system, smtp, token_for, monkeypatch):
    monkeypatch.setenv("NOTIFICATION_MAX_ATTEMPTS", "3")
    alice = uuid.uuid4()
    async with system() as api:  # SMTP stays down for good
        await publish(
            api,
            make_event(
                "booking.expired",
                booking_payload(alice, ALICE_MAIL, status="expired", payment_status="pending"),
            ),
        )
        failed = await eventually(
            lambda: only_notice(api, token_for(user_id=alice), "booking.expired", status="failed")
        )
        [dead] = await rows(
            api, MailDeadLetter, MailDeadLetter.notification_id == uuid.UUID(failed["id"])
        )
        assert dead.recipient == ALICE_MAIL
        assert dead.attempts == 3
        # The customer still has the notice in the app.
        assert "BK7Q2M9X" in failed["message"]


async def test_recipient_refused_for_good_is_failed_without_retrying(system, smtp, token_for):
    smtp.inbox.refuse.add("gone@nowhere.example")
    smtp.start()
    alice = uuid.uuid4()
    async with system() as api:
        await publish(
            api,
            make_event(
                "payment.failed",
                payment_payload(
                    alice,
                    "gone@nowhere.example",
                    booking_id=uuid.uuid4(),
                    status="failed",
                    reason="card declined",
                ),
            ),
        )
        failed = await eventually(
            lambda: only_notice(api, token_for(user_id=alice), "payment.failed", status="failed")
        )
        [row] = await rows(api, Notification, Notification.id == uuid.UUID(failed["id"]))
        assert row.attempts == 1
        assert "550" in (row.last_error or "")
        assert smtp.messages == []


async def test_many_confirmations_at_once_each_mailed_exactly_once(system, smtp, token_for):
    smtp.start()
    users = [uuid.uuid4() for _ in range(15)]
    events = [
        make_event(
            "booking.confirmed",
            booking_payload(user, f"fan{i}@cinema.example", code=f"BKCONC{i:02d}"),
        )
        for i, user in enumerate(users)
    ]
    async with system() as api:
        await asyncio.gather(*(publish(api, e) for e in events), *(publish(api, e) for e in events))

        async def all_sent():
            found = await rows(api, Notification)
            return len(found) == 15 and all(n.status == "sent" for n in found)

        await eventually(all_sent, timeout=30)
        assert sorted(m["To"] for m in smtp.messages) == sorted(
            f"fan{i}@cinema.example" for i in range(15)
        )


async def test_competing_delivery_workers_send_each_mail_exactly_once(system, smtp):
    smtp.start()
    async with system() as api:
        db = notification_db(api)
        async with db.sessionmaker() as session, session.begin():
            service = NotificationService.from_context(notification_ctx(api), session)
            for i in range(20):
                await service.send(
                    SendRequest(
                        user_id=uuid.uuid4(),
                        email=f"guest{i}@cinema.example",
                        subject=f"Notice {i}",
                        message="Doors open at 19:00",
                    )
                )
        # Four more workers race the service's own loop (as several replicas would).
        workers = [
            Deliverer(
                db, SmtpTransport(smtp.url), "boxoffice <t@boxoffice.example>", MailSettings()
            )
            for _ in range(4)
        ]
        await asyncio.gather(*(w.deliver_due() for w in workers for _ in range(2)))

        async def all_sent():
            found = await rows(api, Notification)
            return all(n.status == "sent" for n in found) and found

        found = await eventually(all_sent)
        assert len(smtp.messages) == 20
        assert len({m["To"] for m in smtp.messages}) == 20
        assert {n.attempts for n in found} == {1}


# The `.eml` folder is embedded mode's stand-in for an SMTP server.
@pytest.mark.parametrize("backend", ["sqlite"])
async def test_without_smtp_url_each_mail_is_an_eml_file_in_the_data_folder(
    system, smtp, token_for
):
    alice = uuid.uuid4()
    async with system(smtp_url=None) as api:
        await publish(api, make_event("booking.confirmed", booking_payload(alice, ALICE_MAIL)))
        note = await eventually(
            lambda: only_notice(api, token_for(user_id=alice), "booking.confirmed", status="sent")
        )
        path = api.runtime.settings.data_dir / "outbox-mail" / f"{note['id']}.eml"
        assert path.is_file()
        mail = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert mail["To"] == ALICE_MAIL
        body = parts(mail)
        assert "BK7Q2M9X" in body["plain"]
        assert len(body["images"]) == 1
        assert list(path.parent.iterdir()) == [path]  # no half-written leftovers


class _SendsThenTheDatabaseGoesAway:
    """The SMTP server accepts the e-mail; at that moment the database goes away for a while
    (a PostgreSQL restart, seen from the service: connections cut, new ones refused)."""

    def __init__(self, transport: SmtpTransport, database: TcpProxy, outage: float) -> None:
        self.transport, self.database, self.outage = transport, database, outage
        self.back: asyncio.Task[None] | None = None

    async def send(self, message) -> None:
        await self.transport.send(message)
        await self.database.stop()

        async def come_back() -> None:
            await asyncio.sleep(self.outage)
            await self.database.start()

        self.back = asyncio.create_task(come_back())


@pytest.mark.parametrize("backend", ["postgres"])
async def test_mail_sent_as_the_database_goes_away_is_recorded_once_it_returns_not_sent_again(
    system, smtp, monkeypatch
):
    monkeypatch.setenv("NOTIFICATION_POLL_SECONDS", "3600")
    # The worker below delivers it, with its clock two hours ahead; the service's own loop must
    # stay asleep, or, woken by the new notice's commit, it reads that clock too and sends first.
    monkeypatch.setattr(delivery.DeliveryNudge, "after_commit", lambda self: None)
    smtp.start()
    async with system() as api:
        db = notification_db(api)
        async with db.sessionmaker() as session, session.begin():
            notice = await NotificationService.from_context(notification_ctx(api), session).send(
                SendRequest(
                    user_id=uuid.uuid4(),
                    email=ALICE_MAIL,
                    subject="Your ticket",
                    message="Doors open at 19:00",
                )
            )
            # Due only in an hour, so the service's own delivery loop (whenever its first pass
            # runs on a busy machine) leaves it to the worker below, whose clock is ahead.
            notice.next_attempt_at = utcnow() + dt.timedelta(hours=1)
        monkeypatch.setattr(delivery, "utcnow", lambda: utcnow() + dt.timedelta(hours=2))
        url = db.engine.url
        async with TcpProxy(url.port or 5432) as proxy:
            through_proxy = Database(url.set(port=proxy.port).render_as_string(hide_password=False))
            transport = _SendsThenTheDatabaseGoesAway(SmtpTransport(smtp.url), proxy, 1.5)
            worker = Deliverer(through_proxy, transport, "boxoffice <t@example>", MailSettings())
            try:
                await worker.deliver(notice.id)
            finally:
                await through_proxy.dispose()
        assert transport.back is not None and transport.back.done()
        (found,) = await rows(api, Notification, Notification.id == notice.id)
        assert found.status == "sent"
        assert found.attempts == 1
        assert len(smtp.messages) == 1
