"""A visitor of the web site over real HTTP: its own cookies, the page's CSRF token, forms."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx

_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def csrf_token(html: str) -> str:
    found = _META.search(html)
    assert found, "the page carries no CSRF token"
    return found.group(1)


class Visitor:
    """A browser on `base`: keeps cookies, sends Origin as a browser posting from `origin`."""

    def __init__(self, base: str, origin: str | None = None) -> None:
        self.base = base
        self.origin = origin or base
        self.http = httpx.Client(base_url=base, follow_redirects=False, timeout=30)
        self.token = ""

    def close(self) -> None:
        self.http.close()

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        response = self.http.get(path, **kwargs)
        if "csrf-token" in response.text:
            self.token = csrf_token(response.text)
        return response

    def post(
        self, path: str, data: dict[str, Any] | None = None, *, token: bool = True, **kwargs: Any
    ) -> httpx.Response:
        """A form post from this visitor's page (`token=False`: as a forged form would)."""
        form = dict(data or {})
        if token:
            form["csrf_token"] = self.token
        headers = {"Origin": self.origin, **kwargs.pop("headers", {})}
        return self.http.post(path, data=form, headers=headers, **kwargs)

    def sign_up(self) -> str:
        tag = uuid.uuid4().hex[:8]
        self.get("/register")
        email = f"web-{tag}@example.com"
        answer = self.post(
            "/register",
            {"email": email, "username": f"web{tag}", "password": "secret123"},
        )
        assert answer.status_code == 303, answer.text
        self.get("/")  # the token changes with the login: read the new one
        return email

    def log_in(self, username: str, password: str) -> None:
        self.get("/login")
        answer = self.post("/login", {"username": username, "password": password})
        assert answer.status_code == 303, answer.text
        self.get("/")

    def book_a_seat(self) -> str:
        """Book one free seat of the first showtime; the booking's id."""
        show = self.http.get("/api/movies/showtimes", params={"limit": 1}).json()[0]
        seats = self.http.get(f"/api/movies/showtimes/{show['id']}/available-seats").json()
        free = next(s for s in seats["seats"] if s["status"] == "available")
        self.get(f"/showtimes/{show['id']}")
        answer = self.post(f"/showtimes/{show['id']}/book", {"seat_ids": [free["id"]]})
        assert answer.status_code == 303, answer.text
        location = answer.headers["location"]
        assert location.startswith("/bookings/"), location
        return location.removeprefix("/bookings/")

    def booking_status(self, booking_id: str) -> str:
        page = self.get(f"/bookings/{booking_id}")
        found = re.search(r'data-testid="booking-status">([a-z_]+)<', page.text)
        assert found, page.text
        return found.group(1)
