"""Booking and payment events become notices and real e-mail (aiosmtpd), through the event bus
(in-process on SQLite, RabbitMQ on PostgreSQL): the e-ticket with its QR code, no second mail
for a redelivered event, and delivery that survives the SMTP server being down."""

from __future__ import annotations

import asyncio
import email
import email.policy
import uuid

import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY

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
    parts,
    payment_payload,
    publish,
)

ALICE_MAIL = "alice@cinema-fan.example"


async def rows(api, model, *where):
    async with notification_db(api).sessionmaker() as session:
        return (await session.scalars(sa.select(model).where(*where))).all()


def consumed_duplicates(event_name: str) -> float:
    labels = {"service": "notification", "event": event_name}
    return REGISTRY.get_sample_value("events_duplicates_total", labels) or 0.0


async def test_paid_booking_gives_one_confirmation_and_one_email_with_code_and_qr(
    system, smtp, token_for
):
    smtp.start()
    alice = uuid.uuid4()
    booking_id = uuid.uuid4()
    async with system() as api:
        await publish(
            api,
            make_event(
                "booking.created",
                booking_payload(
                    alice,
                    ALICE_MAIL,
                    booking_id=booking_id,
                    status="pending",
                    payment_status="pending",
                ),
            ),
            make_event(
                "payment.completed", payment_payload(alice, ALICE_MAIL, booking_id=booking_id)
            ),
            make_event(
                "booking.confirmed", booking_payload(alice, ALICE_MAIL, booking_id=booking_id)
            ),
        )
        token = token_for(user_id=alice)
        confirmed = await eventually(
            lambda: _of_type(api, token, "booking.confirmed", status="sent")
        )
        await eventually(lambda: _of_type(api, token, "payment.completed"))

        # One confirmation in the inbox, naming what the customer needs at the door.
        assert confirmed["booking_code"] == "BK7Q2M9X"
        assert confirmed["booking_id"] == str(booking_id)
        for fact in (
            "BK7Q2M9X",
            "Dune: Part Two",
            "Galaxy Hall 1",
            "Fri 20 Mar 2026 at 19:30",
            "C5, C6",
        ):
            assert fact in confirmed["message"], fact
        assert "BK7Q2M9X" in confirmed["subject"]

        # One e-mail: the payment's receipt rides in the confirmation, not in a mail of its own.
        mail = await eventually(lambda: smtp.to(ALICE_MAIL))
        assert len(smtp.to(ALICE_MAIL)) == 1
        body = parts(mail[0])
        assert "BK7Q2M9X" in body["plain"] and "BK7Q2M9X" in body["html"]
        assert "C5, C6" in body["plain"] and "Galaxy Hall 1" in body["html"]
        [qr] = body["images"]
        assert qr.get_content().startswith(b"\x89PNG")
        # The HTML shows the QR code inline, by its Content-ID.
        assert f"cid:{qr['Content-ID'].strip('<>')}" in body["html"]


async def _of_type(api, token, kind, status=None):
    found = [n for n in await notices(api, token) if n["type"] == kind]
    if status is not None:
        found = [n for n in found if n["status"] == status]
    return found[0] if len(found) == 1 else None


async def test_redelivered_event_gives_no_second_notice_or_email(system, smtp, token_for):
    smtp.start()
    alice = uuid.uuid4()
    event = make_event("booking.confirmed", booking_payload(alice, ALICE_MAIL))
    async with system() as api:
        await publish(api, event)
        await eventually(lambda: smtp.to(ALICE_MAIL))
        before = consumed_duplicates("booking.confirmed")

        # The broker delivers the same event again, several times, some at once.
        await publish(api, event)
        await asyncio.gather(publish(api, event), publish(api, event))
        await eventually(lambda: consumed_duplicates("booking.confirmed") >= before + 3)

        assert len(smtp.to(ALICE_MAIL)) == 1
        assert len(await notices(api, token_for(user_id=alice))) == 1


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
            lambda: _of_type(api, token_for(user_id=alice), "booking.confirmed", status="sent")
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
            lambda: _of_type(api, token_for(user_id=alice), "booking.expired", status="failed")
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
            lambda: _of_type(api, token_for(user_id=alice), "payment.failed", status="failed")
        )
        [row] = await rows(api, Notification, Notification.id == uuid.UUID(failed["id"]))
        assert row.attempts == 1
        assert "550" in (row.last_error or "")
        assert smtp.messages == []


async def test_event_without_a_user_is_dead_lettered_and_creates_nothing(system, smtp):
    smtp.start()
    async with system() as api:
        payload = booking_payload(uuid.uuid4(), ALICE_MAIL)
        del payload["user_id"]
        event = make_event("booking.cancelled", payload)
        await publish(api, event)
        bus = api.runtime.bus

        async def dead_lettered():
            return [d for d in await bus.dead_letters("notification") if d.event_id == event.id]

        [dead] = await eventually(dead_lettered)
        assert "user_id" in dead.error
        assert await rows(api, Notification) == []
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


async def test_sent_mail_is_counted_by_type_and_outcome(system, smtp):
    smtp.start()

    def count(outcome):
        labels = {"type": "booking.cancelled", "outcome": outcome}
        return REGISTRY.get_sample_value("notifications_total", labels) or 0.0

    created, sent = count("created"), count("sent")
    async with system() as api:
        await publish(
            api,
            make_event(
                "booking.cancelled",
                booking_payload(
                    uuid.uuid4(), ALICE_MAIL, status="cancelled", payment_status="refunded"
                ),
            ),
        )
        await eventually(lambda: count("sent") == sent + 1)
        assert count("created") == created + 1
        exposed = (await api.get("/api/notifications/metrics")).text
        assert 'notifications_total{outcome="sent",type="booking.cancelled"}' in exposed


async def test_competing_delivery_workers_send_each_mail_exactly_once(system, smtp):
    smtp.start()
    async with system() as api:
        db = notification_db(api)
        async with db.sessionmaker() as session, session.begin():
            service = NotificationService(session)
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
            lambda: _of_type(api, token_for(user_id=alice), "booking.confirmed", status="sent")
        )
        path = api.runtime.settings.data_dir / "outbox-mail" / f"{note['id']}.eml"
        assert path.is_file()
        mail = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert mail["To"] == ALICE_MAIL
        body = parts(mail)
        assert "BK7Q2M9X" in body["plain"]
        assert len(body["images"]) == 1
        assert list(path.parent.iterdir()) == [path]  # no half-written leftovers


async def test_late_payment_story_tells_of_expiry_then_the_automatic_refund(
    system, smtp, token_for
):
    smtp.start()
    alice, booking_id = uuid.uuid4(), uuid.uuid4()
    booking = {"booking_id": booking_id, "payment_status": "pending"}
    payment = {"booking_id": booking_id}
    async with system() as api:
        await publish(
            api,
            make_event(
                "booking.created", booking_payload(alice, ALICE_MAIL, **booking, status="pending")
            ),
            make_event(
                "booking.expired", booking_payload(alice, ALICE_MAIL, **booking, status="expired")
            ),
            make_event("payment.completed", payment_payload(alice, ALICE_MAIL, **payment)),
            make_event(
                "payment.refunded",
                payment_payload(
                    alice, ALICE_MAIL, **payment, status="refunded", reason="booking_expired"
                ),
            ),
        )
        await eventually(lambda: len(smtp.to(ALICE_MAIL)) == 2)
        inbox = await notices(api, token_for(user_id=alice))
        assert {n["type"] for n in inbox} == {
            "booking.expired",
            "payment.completed",
            "payment.refunded",
        }
        refund = next(n for n in inbox if n["type"] == "payment.refunded")
        assert refund["subject"] == "Late payment refunded: BK7Q2M9X"
        # The payment events carry only code and amount; the booking's own events told the rest.
        for fact in (
            "Dune: Part Two",
            "Galaxy Hall 1",
            "Fri 20 Mar 2026 at 19:30",
            "C5, C6",
            "240,000.00 VND",
        ):
            assert fact in refund["message"], fact
        subjects = sorted(m["Subject"] for m in smtp.to(ALICE_MAIL))
        assert subjects == ["Booking expired: BK7Q2M9X", "Late payment refunded: BK7Q2M9X"]
