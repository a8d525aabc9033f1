"""A paid booking is one notice: its two events (`payment.completed`, `booking.confirmed`),
handled at the same moment in two transactions, as two consumers or two batches do in a
rush, still make one, whichever commits first."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

from boxoffice.notification import consumers
from boxoffice.notification.models import Notification
from boxoffice.notification.service import PAID_PAIR
from tests.notification.conftest import booking_payload, make_event, payment_payload, rows

BOOKINGS = 20


async def test_a_paid_bookings_two_events_at_once_make_one_notice(system, smtp):
    smtp.start()
    async with system() as api:
        ctx = api.app.state.service_apps["notification"].state.ctx
        alice, address = uuid.uuid4(), "alice@moviegoer.example"
        bookings = [uuid.uuid4() for _ in range(BOOKINGS)]

        async def handle(name: str, booking_id: uuid.UUID) -> None:
            if name.startswith("booking."):
                payload = booking_payload(alice, address, booking_id=booking_id)
            else:
                payload = payment_payload(alice, address, booking_id=booking_id)
            async with ctx.db.transaction() as session:
                await consumers.notify(make_event(name, payload), session, ctx)

        await asyncio.gather(*(handle(name, b) for b in bookings for name in PAID_PAIR))

        found = await rows(api, Notification, Notification.user_id == alice)
        assert Counter(n.booking_id for n in found) == dict.fromkeys(bookings, 1)
        # The confirmation wins in either order: the notice is its, with the e-ticket e-mail.
        assert {n.type for n in found} == {"booking.confirmed"}
        assert {n.email for n in found} == {address}
