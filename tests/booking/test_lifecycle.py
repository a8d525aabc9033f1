"""A booking's life: cancelled by its owner, expired when unpaid, confirmed and refunded by
payment events (also repeated or out of order), checked in at the door."""

from __future__ import annotations

import asyncio
import uuid

from boxoffice.booking import sweeper
from tests.booking.conftest import (
    BOOK,
    HOLD,
    booking_ctx,
    booking_row,
    events_of,
    eventually,
    handled,
    movie_count_agrees,
    publish,
    redeliver,
    run_out,
    seat_rows,
)
from tests.conftest import bearer


async def book(api, who, show, *labels):
    response = await api.post(BOOK, headers=who.headers, json=show.selection(*labels))
    assert response.status_code == 201, response.text
    return response.json()


async def read(api, who, booking):
    response = await api.get(f"/api/bookings/bookings/{booking['id']}", headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def names(api, booking):
    return [name for name, _ in await events_of(api, booking["id"])]


async def seats_shown(api, show):
    response = await api.get(f"/api/bookings/showtimes/{show.id}/seat-status")
    return response.json()["seats"]


async def available_count_becomes(api, show, count):
    async def check() -> bool:
        shown = await api.get(f"/api/movies/showtimes/{show.id}")
        return shown.json()["available_seats"] == count

    await eventually(check)


async def test_a_strangers_booking_is_answered_as_an_unknown_id(api, make_show, customer):
    """BookingById: another customer's booking gets the very 404 a made-up id gets, so its
    existence is not told; the owner reads and cancels it."""
    show = await make_show(api)
    alice, bob = customer(), customer()
    booking = await book(api, alice, show, "A1")
    made_up = str(uuid.uuid4())
    for method, suffix in (("GET", ""), ("POST", "/cancel")):
        theirs = await api.request(
            method, f"/api/bookings/bookings/{booking['id']}{suffix}", headers=bob.headers
        )
        unknown = await api.request(
            method, f"/api/bookings/bookings/{made_up}{suffix}", headers=bob.headers
        )
        assert theirs.status_code == unknown.status_code == 404
        assert theirs.text == unknown.text.replace(made_up, booking["id"])
    assert (
        await api.get(f"/api/bookings/bookings/{booking['id']}", headers=alice.headers)
    ).is_success
    cancelled = await api.post(
        f"/api/bookings/bookings/{booking['id']}/cancel", headers=alice.headers
    )
    assert cancelled.json()["status"] == "cancelled"


async def test_the_owner_cancels_and_the_seats_are_free_again(api, make_show, customer, token_for):
    show = await make_show(api)
    alice, bob, staff = customer(), customer(), customer("staff")
    booking = await book(api, alice, show, "A1", "A2")
    other = await book(api, bob, show, "C4")
    path = f"/api/bookings/bookings/{booking['id']}"

    # owner-only: others get a 404, staff read everything but cannot cancel for a customer
    mine = await api.get("/api/bookings/bookings", headers=alice.headers)
    assert [b["id"] for b in mine.json()] == [booking["id"]]
    assert (await api.get(path, headers=bob.headers)).status_code == 404
    assert (await api.post(f"{path}/cancel", headers=bob.headers)).status_code == 404
    assert (await api.get(path, headers=staff.headers)).status_code == 200
    everyone = await api.get("/api/bookings/bookings?scope=all", headers=staff.headers)
    assert {b["id"] for b in everyone.json()} == {booking["id"], other["id"]}
    by_user = await api.get(
        f"/api/bookings/bookings?user_id={alice.user_id}", headers=bearer(token_for("admin"))
    )
    assert [b["id"] for b in by_user.json()] == [booking["id"]]
    refused = await api.get("/api/bookings/bookings?scope=all", headers=bob.headers)
    assert refused.status_code == 403 and refused.json()["error_type"] == "PermissionError"
    assert (await api.post(f"{path}/cancel", headers=staff.headers)).status_code == 403
    assert (await api.post(BOOK, headers=bob.headers, json=show.selection("A2"))).status_code == 409

    cancelled = await api.post(f"{path}/cancel", headers=alice.headers)
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["payment_status"] == "unpaid"
    assert await seat_rows(api, booking["id"]) == ["cancelled", "cancelled"]
    assert set(await seats_shown(api, show)) == set(show.ids("C4"))
    [_, (name, payload)] = await events_of(api, booking["id"])
    assert name == "booking.cancelled" and payload["refund_required"] is False
    again = await api.post(f"{path}/cancel", headers=alice.headers)
    assert again.status_code == 409 and again.json()["error_type"] == "ConflictError"

    await book(api, bob, show, "A1", "A2")
    await available_count_becomes(api, show, 12 - 3)


async def test_time_runs_out_holds_lapse_and_unpaid_bookings_expire(
    system, make_show, customer, monkeypatch
):
    # The sweeper waits until the test lets it run: first we look at what happens before it.
    monkeypatch.setattr(sweeper, "sweep_interval", lambda settings: 3600.0)
    # No wall-clock race: bookings keep an hour, and the test moves their expiry into the past
    # (`run_out`) when it wants their time up. A hold lapses on the seat board's own clock
    # (Redis's, in distributed mode), so that one is waited for, as a condition.
    async with system(seat_hold_ttl_seconds=2, booking_expiry_seconds=3600) as api:
        show = await make_show(api)
        alice, bob, carol, dave = customer(), customer(), customer(), customer()
        alices = await book(api, alice, show, "A1")
        carols = await book(api, carol, show, "C1")
        daves = await book(api, dave, show, "C3", "C4")
        await api.post(HOLD, headers=alice.headers, json=show.selection("B2"))
        assert (
            await api.post(HOLD, headers=bob.headers, json=show.selection("B2"))
        ).status_code == 409
        assert (
            await api.post(BOOK, headers=bob.headers, json=show.selection("A1"))
        ).status_code == 409

        # the hold lapses by itself
        async def bob_holds_b2() -> bool:
            held = await api.post(HOLD, headers=bob.headers, json=show.selection("B2"))
            return held.is_success

        await eventually(bob_holds_b2, timeout=30)

        await run_out(api, alices["id"], carols["id"], daves["id"])
        # past expires_at the booking reads expired and its seat is free, sweeper or not
        assert (await read(api, alice, alices))["status"] == "expired"
        assert (await booking_row(api, alices["id"])).status == "pending"
        assert show.seat("A1") not in await seats_shown(api, show)
        # and someone else can book the seat at once (the stale booking is expired on the way)
        bobs = await book(api, bob, show, "A1")
        assert (await booking_row(api, alices["id"])).status == "expired"
        assert await names(api, alices) == ["booking.created", "booking.expired"]

        # a payment that lands after expiry is rejected, so payment refunds it
        late = await publish(
            api, "payment.completed", booking_id=carols["id"], payment_id=uuid.uuid4()
        )
        await handled(api, late)
        assert (await booking_row(api, carols["id"])).status == "expired"
        events = await events_of(api, carols["id"])
        assert [n for n, _ in events] == [
            "booking.created",
            "booking.expired",
            "booking.payment_rejected",
        ]
        assert events[-1][1]["reason"] == "booking_expired"

        # several sweepers at once (replicas) expire dave's booking exactly once
        ctx = booking_ctx(api)
        counts = await asyncio.gather(*(sweeper.sweep_once(ctx) for _ in range(3)))
        assert sum(counts) == 1
        assert await names(api, daves) == ["booking.created", "booking.expired"]
        assert await seat_rows(api, daves["id"]) == ["expired", "expired"]

        # and the sweeper loop does it by itself, nobody calling an endpoint
        monkeypatch.undo()
        erins = await book(api, customer(), show, "A4")
        await run_out(api, erins["id"], bobs["id"])
        loop = asyncio.create_task(sweeper.expiry_sweeper(ctx))
        try:

            async def swept() -> bool:
                rows = [await booking_row(api, b["id"]) for b in (erins, bobs)]
                return all(row.status == "expired" for row in rows)

            await eventually(swept)
        finally:
            loop.cancel()
            await asyncio.gather(loop, return_exceptions=True)
        assert show.seat("A4") not in await seats_shown(api, show)
        # every booking here ran out unpaid (bob's too): the showtime's count is whole again
        await available_count_becomes(api, show, 12)


async def test_payment_events_twice_or_out_of_order_change_nothing_they_should_not(
    api, make_show, customer
):
    show = await make_show(api)
    alice, bob = customer(), customer()
    booking = await book(api, alice, show, "A1")
    paid, second = uuid.uuid4(), uuid.uuid4()

    completed = await publish(api, "payment.completed", booking_id=booking["id"], payment_id=paid)
    await handled(api, completed)
    confirmed = await read(api, alice, booking)
    assert (confirmed["status"], confirmed["payment_status"]) == ("confirmed", "paid")
    assert confirmed["payment_id"] == str(paid)
    assert await seat_rows(api, booking["id"]) == ["confirmed"]

    # the very same event delivered again (it is waited for below, behind the next one)
    await redeliver(api, completed)
    # a second, different payment for a paid booking is rejected (payment refunds it)
    other = await publish(api, "payment.completed", booking_id=booking["id"], payment_id=second)
    await handled(api, other)
    rows = await events_of(api, booking["id"])
    assert [n for n, _ in rows] == [
        "booking.created",
        "booking.confirmed",  # once, though its event came twice
        "booking.payment_rejected",
    ]
    assert rows[-1][1]["reason"] == "already_paid" and rows[-1][1]["payment_id"] == str(second)
    # ...and the refund of that second payment leaves the booking as it was
    refund_other = await publish(
        api, "payment.refunded", booking_id=booking["id"], payment_id=second
    )
    await handled(api, refund_other)
    assert (await read(api, alice, booking))["status"] == "confirmed"

    # the refund of the payment that paid cancels the booking and frees the seat
    refund = await publish(api, "payment.refunded", booking_id=booking["id"], payment_id=paid)
    await handled(api, refund)
    refunded = await read(api, alice, booking)
    assert (refunded["status"], refunded["payment_status"]) == ("cancelled", "refunded")
    assert await seat_rows(api, booking["id"]) == ["cancelled"]
    # a late copy of the completion changes nothing now
    late = await publish(api, "payment.completed", booking_id=booking["id"], payment_id=paid)
    await handled(api, late)
    assert await names(api, booking) == [
        "booking.created",
        "booking.confirmed",
        "booking.payment_rejected",
        "booking.cancelled",
    ]
    assert (await read(api, alice, booking))["status"] == "cancelled"

    # out of order: the refund overtakes the completion; the booking ends cancelled, once
    bobs = await book(api, bob, show, "A1")
    payment = uuid.uuid4()
    first = await publish(api, "payment.refunded", booking_id=bobs["id"], payment_id=payment)
    await handled(api, first)
    then = await publish(api, "payment.completed", booking_id=bobs["id"], payment_id=payment)
    await handled(api, then)
    final = await read(api, bob, bobs)
    assert (final["status"], final["payment_status"]) == ("cancelled", "refunded")
    assert await names(api, bobs) == ["booking.created", "booking.cancelled"]

    # events about bookings this service never made are handled and ignored
    stray = await publish(
        api, "payment.completed", booking_id=uuid.uuid4(), payment_id=uuid.uuid4()
    )
    await handled(api, stray)
    await movie_count_agrees(api, show)


async def test_paying_confirms_staff_check_the_ticket_in_and_cancelling_a_paid_one_refunds_it(
    full_api, make_show, customer
):
    api = full_api
    show = await make_show(api)
    alice, staff = customer(), customer("staff")
    booking = await book(api, alice, show, "A1", "A2")
    check_in = "/api/bookings/bookings/check-in"

    async def pay(target):
        response = await api.post(
            "/api/payments/process",
            headers={**alice.headers, "Idempotency-Key": uuid.uuid4().hex},
            json={
                "booking_id": target["id"],
                "payment_method": "credit_card",
                "amount": target["total_price"],
            },
        )
        assert response.status_code == 201, response.text
        return response.json()

    async def becomes(target, status, payment_status):
        async def check() -> bool:
            now = await read(api, alice, target)
            return (now["status"], now["payment_status"]) == (status, payment_status)

        await eventually(check)

    async def present(who, code):
        return await api.post(check_in, headers=who.headers, json={"booking_code": code})

    # not paid yet: nobody gets in
    assert (await present(staff, booking["booking_code"])).status_code == 409

    payment = await pay(booking)
    await becomes(booking, "confirmed", "paid")
    assert (await read(api, alice, booking))["payment_id"] == payment["id"]
    assert await seat_rows(api, booking["id"]) == ["confirmed", "confirmed"]

    # at the door: staff only, each code once
    assert (await present(alice, booking["booking_code"])).status_code == 403
    assert (await present(staff, "BKNOSUCH22")).status_code == 404
    assert (await present(staff, "BK\x00; DROP")).status_code == 400
    used = await present(staff, booking["booking_code"].lower())
    assert used.status_code == 200 and used.json()["checked_in_at"]
    twice = await present(staff, booking["booking_code"])
    assert twice.status_code == 409 and "already" in twice.json()["detail"]
    cancel_used = f"/api/bookings/bookings/{booking['id']}/cancel"
    assert (await api.post(cancel_used, headers=alice.headers)).status_code == 409

    # cancelling a paid booking frees the seats and payment refunds it (the saga)
    second = await book(api, alice, show, "B1")
    await pay(second)
    await becomes(second, "confirmed", "paid")
    cancel = f"/api/bookings/bookings/{second['id']}/cancel"
    cancelled = await api.post(cancel, headers=alice.headers)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    [payload] = [p for n, p in await events_of(api, second["id"]) if n == "booking.cancelled"]
    assert payload["refund_required"] is True
    assert show.seat("B1") not in await seats_shown(api, show)
    await becomes(second, "cancelled", "refunded")
    await movie_count_agrees(api, show)
