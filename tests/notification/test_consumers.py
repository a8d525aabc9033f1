"""What the notification consumers read of other services' events (no servers needed): every
booking fact the service keeps, odd values read as absent, and no notice without its user."""

from __future__ import annotations

import uuid

import pytest

from boxoffice.core.events import MalformedEvent
from boxoffice.notification.consumers import BookingFacts, NoticeFacts
from boxoffice.notification.content import BOOKING_FIELDS, NOTIFIED_EVENTS, compose
from tests.notification.conftest import booking_payload, make_event, payment_payload

ALICE = uuid.uuid4()


def test_the_readers_take_every_booking_fact_the_service_keeps():
    assert set(BOOKING_FIELDS) <= set(BookingFacts.model_fields)
    assert set(BookingFacts.model_fields) <= set(NoticeFacts.model_fields)


@pytest.mark.parametrize("name", NOTIFIED_EVENTS)
@pytest.mark.parametrize("extra", [{}, {"reason": "booking_expired", "refund_required": True}])
def test_a_notice_from_the_readers_facts_is_the_notice_from_the_payload(name, extra):
    if name.startswith("booking."):
        payload = booking_payload(ALICE, "a@x.example", **extra)
    else:
        payload = payment_payload(ALICE, "a@x.example", booking_id=uuid.uuid4(), **extra)
    facts = make_event(name, payload).read(NoticeFacts).facts()
    assert compose(name, facts) == compose(name, payload)


def test_an_unreadable_booking_id_reads_as_no_booking():
    event = make_event("booking.created", {"booking_id": "not-an-id", "user_id": 7})
    booking = event.read(BookingFacts)
    assert booking.booking_id is None and booking.user_id is None


@pytest.mark.parametrize("user_id", [None, "", "not-an-id"])
def test_an_event_without_a_valid_user_is_malformed(user_id):
    payload = booking_payload(ALICE, "a@x.example") | {"user_id": user_id}
    with pytest.raises(MalformedEvent, match="user_id"):
        make_event("booking.confirmed", payload).read(NoticeFacts)
