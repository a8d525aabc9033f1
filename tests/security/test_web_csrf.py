"""Finding 4 of issue 11: the web site's forms could be posted from anywhere.

A page on another port of the same host (same-site, so SameSite=Lax cookies still go along)
cancelled a victim's booking; a cross-site page logged the victim in as the attacker; a link
with `?notice=` put any text on the site's pages. Each story runs against the embedded system
on a real port, as a browser would talk to it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from tests.browser.conftest import free_port
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.security.website import Visitor


@pytest.fixture
def visitors(site: str) -> Iterator[list[Visitor]]:
    made: list[Visitor] = []
    yield made
    for visitor in made:
        visitor.close()


@pytest.fixture
def victim(site: str, visitors: list[Visitor]) -> Visitor:
    visitor = Visitor(site)
    visitors.append(visitor)
    visitor.sign_up()
    return visitor


def other_port_origin(site: str) -> str:
    """A page on the same host, another port: same-site, but another origin."""
    port = urlsplit(site).port
    other = free_port()
    while other == port:
        other = free_port()
    return f"http://127.0.0.1:{other}"


def test_a_page_on_another_port_cannot_cancel_a_booking(site: str, victim: Visitor):
    booking = victim.book_a_seat()
    evil = other_port_origin(site)

    # The attacker's page cannot read the token: its form posts without one...
    forged = victim.post(f"/bookings/{booking}/cancel", token=False, headers={"Origin": evil})
    assert forged.status_code == 403
    assert "another site" in forged.text
    # ...and even a request carrying the right token is refused for its origin alone,
    # whether the browser names it in Origin or (without Origin) in Referer.
    with_token = victim.post(f"/bookings/{booking}/cancel", headers={"Origin": evil})
    assert with_token.status_code == 403
    by_referer = victim.http.post(
        f"/bookings/{booking}/cancel",
        data={"csrf_token": victim.token},
        headers={"Referer": f"{evil}/attack.html"},
    )
    assert by_referer.status_code == 403

    assert victim.booking_status(booking) == "pending"


def test_a_cross_site_page_cannot_log_the_visitor_in_as_someone_else(
    site: str,
    visitors: list[Visitor],
):
    attacker = Visitor(site)
    visitors.append(attacker)
    attacker_email = attacker.sign_up()

    # The victim has been on the site (so holds a pre-session) but is not logged in.
    victim = Visitor(site, origin="https://evil.example")
    visitors.append(victim)
    victim.get("/")
    credentials = {"username": attacker_email, "password": "secret123"}
    forged = victim.post("/login", credentials, token=False)
    assert forged.status_code == 403
    assert "bo_token" not in victim.http.cookies
    # A visitor who never saw the site has no token at all: refused as well.
    stranger = Visitor(site, origin="https://evil.example")
    visitors.append(stranger)
    again = stranger.post("/login", credentials)
    assert again.status_code == 403
    assert "bo_token" not in stranger.http.cookies
    assert attacker_email not in victim.get("/").text


def test_a_form_without_the_token_or_with_a_wrong_one_is_refused(victim: Visitor):
    booking = victim.book_a_seat()
    missing = victim.post(f"/bookings/{booking}/cancel", token=False)
    assert missing.status_code == 403
    assert "Reload the page" in missing.text
    wrong = victim.post(f"/bookings/{booking}/cancel", {"csrf_token": "x" * 43}, token=False)
    assert wrong.status_code == 403
    # A token from another visitor's session is no good either.
    other = Visitor(victim.base)
    other.get("/login")
    borrowed = victim.post(f"/bookings/{booking}/cancel", {"csrf_token": other.token}, token=False)
    other.close()
    assert borrowed.status_code == 403
    assert victim.booking_status(booking) == "pending"

    cancelled = victim.post(f"/bookings/{booking}/cancel", {"confirm": "yes"})
    assert cancelled.status_code == 303
    assert victim.booking_status(booking) == "cancelled"


def test_the_seat_map_needs_the_token_in_its_header(victim: Visitor):
    show = victim.http.get("/api/movies/showtimes", params={"limit": 1}).json()[0]
    seats = victim.http.get(f"/api/movies/showtimes/{show['id']}/available-seats").json()
    seat = next(s for s in seats["seats"] if s["status"] == "available")
    page = victim.get(f"/showtimes/{show['id']}")
    assert page.status_code == 200
    hold = f"/showtimes/{show['id']}/seats/hold"
    body = {"seat_ids": [seat["id"]]}

    refused = victim.http.post(hold, json=body, headers={"Origin": victim.origin})
    assert refused.status_code == 403
    assert refused.json()["error_type"] == "CsrfError"
    held = victim.http.post(
        hold, json=body, headers={"Origin": victim.origin, "X-CSRF-Token": victim.token}
    )
    assert held.status_code == 200, held.text


def _set_cookies(response: httpx.Response) -> dict[str, str]:
    return {header.split("=", 1)[0]: header for header in response.headers.get_list("set-cookie")}


@pytest.mark.parametrize("scheme", ["https", "http"])
def test_cookies_are_secure_when_the_site_is_served_over_https(site: str, scheme: str):
    """Behind the gateway, X-Forwarded-Proto says how the browser reached the site."""
    host = urlsplit(site).netloc
    forwarded = {"X-Forwarded-Proto": scheme}
    with httpx.Client(base_url=site, follow_redirects=False) as http:
        page = http.get("/login", headers=forwarded)
        session = page.headers["set-cookie"].split(";")[0]
        token = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
        assert token
        login = http.post(
            "/login",
            data={"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "csrf_token": token[1]},
            headers={**forwarded, "Origin": f"{scheme}://{host}", "Cookie": session},
        )
    assert login.status_code == 303, login.text
    cookies = _set_cookies(login)
    assert set(cookies) >= {"bo_token", "bo_session"}
    for header in [*cookies.values(), _set_cookies(page)["bo_session"]]:
        attributes = [a.strip().lower() for a in header.split(";")[1:]]
        assert "httponly" in attributes and "samesite=lax" in attributes
        assert ("secure" in attributes) == (scheme == "https"), header


def test_notices_come_from_the_session_never_from_the_link(victim: Visitor):
    forged = "Your account is locked: call 0900 123 456"
    for name in ("notice", "error"):
        page = victim.get("/", params={name: forged})
        assert page.status_code == 200
        assert forged not in page.text
        assert 'class="notice"' not in page.text and 'class="error"' not in page.text

    booking = victim.book_a_seat()
    # The booking redirect flashed its notice: shown on the next page, once.
    first = victim.get(f"/bookings/{booking}")
    assert "Seats booked: pay to confirm them." in first.text
    again = victim.get(f"/bookings/{booking}")
    assert "Seats booked" not in again.text

    cancelled = victim.post(f"/bookings/{booking}/cancel", {"confirm": "yes"})
    assert cancelled.headers["location"] == f"/bookings/{booking}"  # no message in the URL
    assert (
        '<p class="notice" role="status">Booking cancelled.</p>'
        in victim.get(cancelled.headers["location"]).text
    )
    assert "Booking cancelled." not in victim.get(f"/bookings/{booking}").text
