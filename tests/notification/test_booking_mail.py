"""Booking and payment events become notices and real e-mail (aiosmtpd), through the event bus
(in-process on SQLite, RabbitMQ on PostgreSQL): the e-ticket with its QR code, no second mail
for a redelivered event, the late-payment story, and what is counted."""

from __future__ import annotations

import asyncio
import uuid

from prometheus_client import REGISTRY

from boxoffice.notification.models import Notification
from tests.conftest import bearer, scrape
from tests.notification.conftest import (
    booking_payload,
    eventually,
    make_event,
    notices,
    only_notice,
    parts,
    payment_payload,
    publish,
    rows,
)

ALICE_MAIL = "alice@cinema-fan.example"


def consumed(event_name: str) -> float:
    labels = {"service": "notification", "event": event_name}
    return REGISTRY.get_sample_value("events_consumed_total", labels) or 0.0


def consumed_duplicates(event_name: str) -> float:
    labels = {"service": "notification", "event": event_name}
    return REGISTRY.get_sample_value("events_duplicates_total", labels) or 0.0


async def test_paid_booking_gives_one_notice_and_one_email_with_code_and_qr(
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
            lambda: only_notice(api, token, "booking.confirmed", status="sent")
        )
        # The payment and the confirmation are one purchase: one notice in the inbox, not two.
        assert [n["type"] for n in await notices(api, token)] == ["booking.confirmed"]

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


async def test_confirmation_before_payment_event_still_gives_one_notice(system, smtp, token_for):
    smtp.start()
    alice = uuid.uuid4()
    booking_id = uuid.uuid4()
    before = consumed("payment.completed")
    async with system() as api:
        # Events of two producers may arrive in either order.
        await publish(
            api,
            make_event(
                "booking.confirmed", booking_payload(alice, ALICE_MAIL, booking_id=booking_id)
            ),
            make_event(
                "payment.completed", payment_payload(alice, ALICE_MAIL, booking_id=booking_id)
            ),
        )
        token = token_for(user_id=alice)
        await eventually(lambda: only_notice(api, token, "booking.confirmed", status="sent"))
        await eventually(lambda: consumed("payment.completed") > before)
        assert [n["type"] for n in await notices(api, token)] == ["booking.confirmed"]
        assert len(smtp.to(ALICE_MAIL)) == 1


async def test_an_admins_notice_about_a_booking_does_not_swallow_its_e_ticket(
    system, smtp, token_for
):
    """A notice an admin writes may carry any type and name a booking; it is not the
    purchase notice, so the booking's own events still make theirs, with the e-ticket."""
    smtp.start()
    alice = uuid.uuid4()
    booking_id = uuid.uuid4()
    async with system() as api:
        sent = await api.post(
            "/api/notifications/send",
            json={
                "user_id": str(alice),
                "type": "booking.confirmed",
                "subject": "About your booking",
                "message": "The hall changed; your seats did not.",
                "booking_id": str(booking_id),
            },
            headers=bearer(token_for("admin")),
        )
        assert sent.status_code == 201, sent.text
        await publish(
            api,
            make_event(
                "payment.completed", payment_payload(alice, ALICE_MAIL, booking_id=booking_id)
            ),
            make_event(
                "booking.confirmed", booking_payload(alice, ALICE_MAIL, booking_id=booking_id)
            ),
        )
        mail = await eventually(lambda: smtp.to(ALICE_MAIL))
        assert len(parts(mail[0])["images"]) == 1  # the e-ticket's QR code
        subjects = sorted(n["subject"] for n in await notices(api, token_for(user_id=alice)))
        assert len(subjects) == 2 and "About your booking" in subjects


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
        exposed = await scrape()
        assert 'notifications_total{outcome="sent",type="booking.cancelled"}' in exposed


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
