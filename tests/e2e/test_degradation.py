"""SPEC 4.7, degrade don't fall over: with Redis unreachable the cinema keeps selling, the
database alone decides who gets a seat, and payment still confirms the booking."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import sqlalchemy as sa

from boxoffice.booking.models import BookingSeat
from tests.conftest import bearer, running_system

DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1


async def make_showtime(api, admin: dict[str, str]) -> tuple[str, list[str]]:
    movie = await api.post(
        "/api/movies/movies",
        headers=admin,
        json={"title": "Mai", "duration_minutes": 131, "genre": "Drama"},
    )
    theater = await api.post(
        "/api/movies/theaters",
        headers=admin,
        json={
            "name": "Hall 2",
            "location": "1 Le Loi",
            "city": "Hanoi",
            "rows": 4,
            "seats_per_row": 10,
        },
    )
    assert theater.status_code == 201, theater.text
    show = await api.post(
        "/api/movies/showtimes",
        headers=admin,
        json={
            "movie_id": movie.json()["id"],
            "theater_id": theater.json()["id"],
            "show_date": (dt.date.today() + dt.timedelta(days=3)).isoformat(),
            "show_time": "20:00:00",
            "price": 100000,
        },
    )
    assert show.status_code == 201, show.text
    seats = (await api.get(f"/api/movies/seats/{theater.json()['id']}")).json()
    return show.json()["id"], [s["id"] for s in seats]


async def live_sales(api, showtime_id: str) -> list[str]:
    db = api.app.state.service_apps["booking"].state.ctx.db
    async with db.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(BookingSeat.seat_id).where(
                BookingSeat.showtime_id == uuid.UUID(showtime_id),
                BookingSeat.status.in_(["pending", "confirmed"]),
            )
        )
        return [str(r[0]) for r in rows]


async def test_with_redis_down_booking_paying_and_the_no_double_sale_rule_still_hold(
    make_settings, token_for
):
    settings = make_settings("postgres", redis_url=DEAD_REDIS)
    async with running_system(settings) as api:
        showtime_id, seats = await make_showtime(api, bearer(token_for("admin")))

        # Twenty customers want the same seat at once: the database lets exactly one have it.
        racers = [token_for() for _ in range(20)]
        answers = await asyncio.gather(
            *(
                api.post(
                    "/api/bookings/book",
                    headers=bearer(t),
                    json={"showtime_id": showtime_id, "seat_ids": [seats[0]]},
                )
                for t in racers
            )
        )
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [201] + [409] * 19, [a.text for a in answers if a.status_code >= 500]
        for refused in (a for a in answers if a.status_code == 409):
            assert refused.json()["error_type"] and refused.json()["status_code"] == 409

        # Ten customers taking different seats all succeed: no false conflicts either.
        others = await asyncio.gather(
            *(
                api.post(
                    "/api/bookings/book",
                    headers=bearer(token_for()),
                    json={"showtime_id": showtime_id, "seat_ids": [seat]},
                )
                for seat in seats[1:11]
            )
        )
        assert [o.status_code for o in others] == [201] * 10
        sold = await live_sales(api, showtime_id)
        assert sorted(sold) == sorted(seats[:11])

        # The winner pays; the saga confirms the booking without Redis.
        winner = next(t for t, a in zip(racers, answers, strict=True) if a.status_code == 201)
        booking = next(a for a in answers if a.status_code == 201).json()
        paid = await api.post(
            "/api/payments/process",
            headers={**bearer(winner), "Idempotency-Key": uuid.uuid4().hex},
            json={
                "booking_id": booking["id"],
                "payment_method": "credit_card",
                "amount": booking["total_price"],
            },
        )
        assert paid.status_code == 201, paid.text
        for _ in range(60):
            now = (
                await api.get(f"/api/bookings/bookings/{booking['id']}", headers=bearer(winner))
            ).json()
            if now["status"] == "confirmed":
                break
            await asyncio.sleep(0.25)
        assert (now["status"], now["payment_status"]) == ("confirmed", "paid")

        # Logging out needs the revocation list: it says so instead of pretending.
        logout = await api.post("/api/auth/logout", headers=bearer(winner))
        assert logout.status_code == 503
        assert logout.json()["error_type"] == "ServiceUnavailable"
