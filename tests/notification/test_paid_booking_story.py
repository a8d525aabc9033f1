"""The whole system (movie, booking, payment, notification) on each backend, RabbitMQ on the
distributed one: a customer books and pays, then cancels; the notices and e-mails they get
come from the real services' events."""

from __future__ import annotations

import datetime as dt
import uuid

from tests.conftest import bearer, running_system
from tests.notification.conftest import eventually, notices, parts

SERVICES = ("movie", "booking", "payment", "notification")


async def open_cinema(api, admin: str) -> tuple[str, list[dict]]:
    """A movie in a small theater with one showtime tomorrow; returns it and its seats."""
    headers = bearer(admin)
    movie = await api.post(
        "/api/movies/movies",
        json={"title": "Spirited Away", "duration_minutes": 125, "genre": "Animation"},
        headers=headers,
    )
    assert movie.status_code == 201, movie.text
    theater = await api.post(
        "/api/movies/theaters",
        json={
            "name": "Lotus Hall",
            "location": "9 Lake St",
            "city": "Hanoi",
            "rows": 3,
            "seats_per_row": 4,
        },
        headers=headers,
    )
    assert theater.status_code == 201, theater.text
    show = await api.post(
        "/api/movies/showtimes",
        json={
            "movie_id": movie.json()["id"],
            "theater_id": theater.json()["id"],
            "show_date": (dt.date.today() + dt.timedelta(days=1)).isoformat(),
            "show_time": "20:15",
            "price": "120000.00",
        },
        headers=headers,
    )
    assert show.status_code == 201, show.text
    seats = await api.get(f"/api/movies/seats/{theater.json()['id']}")
    return show.json()["id"], seats.json()


async def test_paid_then_cancelled_booking_tells_its_customer_each_step(
    backend, make_settings, smtp, fast_delivery, token_for
):
    smtp.start()
    alice = uuid.uuid4()
    address = "alice@moviegoer.example"
    token = token_for(user_id=alice, email=address)
    settings = make_settings(backend, smtp_url=smtp.url)
    async with running_system(settings, services=SERVICES) as api:
        showtime_id, seats = await open_cinema(api, token_for("admin"))
        chosen = [s for s in seats if s["seat_row"] == "B"][:2]
        booked = await api.post(
            "/api/bookings/book",
            json={"showtime_id": showtime_id, "seat_ids": [s["id"] for s in chosen]},
            headers=bearer(token),
        )
        assert booked.status_code == 201, booked.text
        booking = booked.json()
        code = booking["booking_code"]
        paid = await api.post(
            "/api/payments/process",
            json={
                "booking_id": booking["id"],
                "payment_method": "credit_card",
                "amount": booking["total_price"],
            },
            headers={**bearer(token), "Idempotency-Key": uuid.uuid4().hex},
        )
        assert paid.status_code in (200, 201), paid.text

        # Paid: a confirmation notice, and exactly one e-mail, the e-ticket with its QR code.
        async def confirmed():
            return [n for n in await notices(api, token) if n["type"] == "booking.confirmed"]

        [notice] = await eventually(confirmed)
        assert notice["booking_code"] == code
        for fact in (code, "Spirited Away", "Lotus Hall", "20:15", "B1, B2"):
            assert fact in notice["message"], fact
        [ticket] = await eventually(lambda: smtp.to(address))
        body = parts(ticket)
        assert code in body["plain"] and code in body["html"]
        assert len(body["images"]) == 1

        # Cancelling the paid booking: told of the cancellation, then of the refund.
        cancelled = await api.post(
            f"/api/bookings/bookings/{booking['id']}/cancel", headers=bearer(token)
        )
        assert cancelled.status_code == 200, cancelled.text
        await eventually(lambda: len(smtp.to(address)) == 3)
        kinds = sorted(n["type"] for n in await notices(api, token))
        assert kinds == ["booking.cancelled", "booking.confirmed", "payment.refunded"]
        subjects = sorted(m["Subject"] for m in smtp.to(address))
        assert subjects == sorted(
            [f"Booking cancelled: {code}", notice["subject"], f"Refund issued: {code}"]
        )
