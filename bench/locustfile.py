"""A Friday-night rush: customers browse, pick seats of the few popular showtimes, book, pay
(some twice, some with a declined card), and cancel now and then.

    .venv/bin/locust -f bench/locustfile.py --headless -u 40 -r 20 -t 60s \
        --host http://127.0.0.1:8080 --json

Conflicts (409) are what a rush looks like, not failures; a 5xx is always a failure. The slow
test tests/load/test_friday_rush.py runs this and then checks, in the databases, that no seat was
sold twice and that the money adds up.
"""

from __future__ import annotations

import random
import uuid

from locust import HttpUser, between, task

EXPECTED = {"book": (201, 409), "pay": (200, 201, 402, 409), "cancel": (200, 409)}


class Customer(HttpUser):
    wait_time = between(0.1, 0.6)

    def on_start(self) -> None:
        tag = uuid.uuid4().hex[:10]
        email = f"rush-{tag}@example.com"
        self.client.post(
            "/api/auth/register",
            json={"email": email, "username": f"rush{tag}", "password": "secret123"},
        )
        token = self.client.post(
            "/api/auth/token", data={"username": email, "password": "secret123"}
        ).json()["access_token"]
        self.auth = {"Authorization": f"Bearer {token}"}
        shows = self.client.get("/api/movies/showtimes?limit=200").json()
        # Everyone wants the same few showtimes: that is what makes it a rush.
        self.hot = [s["id"] for s in shows[:3]]
        self.bookings: list[dict] = []

    @task(3)
    def browse(self) -> None:
        self.client.get("/api/movies/movies")
        self.client.get(f"/api/movies/showtimes/{random.choice(self.hot)}", name="/showtime")

    @task(6)
    def book_and_pay(self) -> None:
        show = random.choice(self.hot)
        seats = self.client.get(
            f"/api/movies/showtimes/{show}/available-seats",
            headers=self.auth,
            name="/available-seats",
        ).json()["seats"]
        free = [s["id"] for s in seats if s["status"] == "available"]
        if not free:
            return
        wanted = random.sample(free[:30], k=min(len(free[:30]), random.randint(1, 3)))
        with self.client.post(
            "/api/bookings/book",
            json={"showtime_id": show, "seat_ids": wanted},
            headers=self.auth,
            catch_response=True,
        ) as booked:
            if booked.status_code not in EXPECTED["book"]:
                booked.failure(f"book: {booked.status_code} {booked.text[:200]}")
                return
            booked.success()
            if booked.status_code != 201:
                return
            booking = booked.json()
        key = uuid.uuid4().hex
        card = "tok_decline" if random.random() < 0.1 else "tok_visa"
        for _ in range(2 if random.random() < 0.3 else 1):  # an impatient double click
            with self.client.post(
                "/api/payments/process",
                json={
                    "booking_id": booking["id"],
                    "payment_method": "credit_card",
                    "amount": booking["total_price"],
                    "payment_token": card,
                },
                headers={**self.auth, "Idempotency-Key": key},
                catch_response=True,
                name="/process",
            ) as paid:
                if paid.status_code in EXPECTED["pay"]:
                    paid.success()
                else:
                    paid.failure(f"pay: {paid.status_code} {paid.text[:200]}")
        self.bookings.append(booking)

    @task(1)
    def cancel_one(self) -> None:
        if not self.bookings:
            return
        booking = self.bookings.pop(random.randrange(len(self.bookings)))
        with self.client.post(
            f"/api/bookings/bookings/{booking['id']}/cancel",
            headers=self.auth,
            catch_response=True,
            name="/cancel",
        ) as cancelled:
            if cancelled.status_code in EXPECTED["cancel"]:
                cancelled.success()
            else:
                cancelled.failure(f"cancel: {cancelled.status_code} {cancelled.text[:200]}")
