"""A customer's tickets in a real browser: booking, paying (the ticket appears by itself),
a declined card and a retry, My tickets, the calendar entry and cancelling."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect

from boxoffice.web.app import create_web_app
from boxoffice.web.tickets import calendar_entry, refund_terms
from tests.browser.journey import (
    book,
    expect_ticket,
    free_seats,
    open_a_showtime,
    pay,
    pick_seats,
    sign_up,
)

pytestmark = pytest.mark.browser


def test_new_customer_books_pays_and_the_ticket_appears_by_itself(any_site: str, browser: Browser):
    page = browser.new_context().new_page()
    sign_up(page, any_site, "dana")
    open_a_showtime(page, any_site)
    pick_seats(page, *free_seats(page, 2))
    page.click("[data-testid=book]")

    # The booking page: a live countdown, the theater's clock, one way to write money.
    expect(page.locator("[data-testid=booking-status]")).to_have_text("pending")
    countdown = page.locator("[data-testid=countdown]")
    expect(countdown).to_contain_text(re.compile(r"\(\d+:\d\d left\)"))
    first = countdown.inner_text()
    expect(countdown).not_to_have_text(first)  # it runs
    main = page.locator("main")
    expect(main).not_to_contain_text(re.compile(r"\d{4}-\d\d-\d\dT\d\d:"))  # no raw ISO time
    expect(main).not_to_contain_text("VND")
    expect(page.get_by_role("radio", name="E-wallet")).to_be_visible()

    pay(page)
    # No page.reload(): the site moves to the confirmed ticket by itself.
    expect_ticket(page)
    expect(page.locator(".error")).to_have_count(0)


def test_declined_card_then_a_successful_retry(any_site: str, browser: Browser):
    page = browser.new_context().new_page()
    sign_up(page, any_site, "carol")
    book(page, any_site)
    pay(page, "tok_decline")
    error = page.locator(".error")
    expect(error).to_contain_text("Your card was declined")
    expect(error).not_to_contain_text("card_declined")
    expect(page.locator("[data-testid=booking-status]")).to_have_text("pending")

    pay(page, "tok_visa")
    expect_ticket(page)
    expect(page.locator(".error")).to_have_count(0)


def test_paying_a_paid_booking_again_shows_the_ticket_not_a_failure(site: str, browser: Browser):
    page = browser.new_context().new_page()
    sign_up(page, site, "erin")
    book(page, site)
    # The same pay form, sent a second time from another tab after the first one paid.
    form_html = page.locator("#pay-form").evaluate("f => f.outerHTML")
    pay(page)
    expect_ticket(page)
    page.set_content(form_html.replace('action="/bookings', f'action="{site}/bookings'))
    page.click("[data-testid=pay]")
    expect_ticket(page)
    expect(page.locator(".error")).to_have_count(0)


def test_my_tickets_calendar_and_cancelling_with_the_refund_rule(site: str, browser: Browser):
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    sign_up(page, site, "frank")
    open_a_showtime(page, site)
    seats = free_seats(page, 2)
    pick_seats(page, *seats)
    page.click("[data-testid=book]")
    ticket_url = page.url
    code = page.locator("[data-testid=booking-code]").inner_text()
    pay(page)
    expect_ticket(page)

    # My tickets: cards under "Upcoming", with the status.
    page.goto(f"{site}/bookings")
    upcoming = page.locator("[data-testid=upcoming]")
    card = upcoming.locator("[data-testid=ticket-card]", has_text=code)
    expect(card).to_be_visible()
    expect(card).to_contain_text("confirmed")
    expect(card).to_contain_text(", ".join(seats))

    # Add to calendar: a valid iCalendar file with the show as a VEVENT.
    page.goto(ticket_url)
    with page.expect_download() as info:
        page.click("[data-testid=calendar]")
    ics = open(info.value.path(), "rb").read().decode()
    assert ics.startswith("BEGIN:VCALENDAR\r\n") and ics.endswith("END:VCALENDAR\r\n")
    assert "BEGIN:VEVENT\r\n" in ics and f"UID:{ticket_url.rsplit('/', 1)[1]}@boxoffice" in ics
    assert re.search(r"\r\nDTSTART:\d{8}T\d{6}Z\r\n", ics)
    assert re.search(r"\r\nDTEND:\d{8}T\d{6}Z\r\n", ics)
    assert "SUMMARY:" in ics and "LOCATION:" in ics
    assert all(line.endswith("\r") or not line for line in ics.split("\n")[:-1])

    # Cancel: "are you sure?", with the refund rule as it applies to this ticket.
    page.click("[data-testid=cancel]")
    expect(page.locator("h1")).to_have_text("Cancel this booking?")
    rule = page.locator("[data-testid=refund-rule]")
    expect(rule).to_contain_text("full")
    expect(rule).to_contain_text("until the show starts")
    page.click("[data-testid=confirm-cancel]")
    expect(page.locator(".notice")).to_contain_text("Booking cancelled")
    expect(page.locator("[data-testid=booking-status]")).to_have_text("cancelled")
    expect(page.locator("[data-testid=cancel]")).to_have_count(0)


# --- the pages over a stand-in API (no browser): what only a broken or busy API shows -------

USER = {
    "id": str(uuid.uuid4()),
    "email": "lena@example.com",
    "username": "lena",
    "full_name": "Lena",
    "role": "customer",
}
TOKEN = "aaa.bbb.ccc"  # the shape of a JWT; the stand-in API takes any


def a_booking(**changes: Any) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    starts = (now + dt.timedelta(days=3)).replace(hour=12, minute=30, second=0, microsecond=0)
    booking = {
        "id": str(uuid.uuid4()),
        "booking_code": "BKABC123",
        "showtime_id": str(uuid.uuid4()),
        "movie_id": str(uuid.uuid4()),
        "movie_title": "Dune: Part Two",
        "theater_name": "CGV Vincom",
        "city": "Ho Chi Minh City",
        "status": "pending",
        "payment_status": "unpaid",
        "total_price": 240000.0,
        "expires_at": (now + dt.timedelta(minutes=10)).isoformat(),
        "seats": [{"seat_row": "E", "seat_number": 7, "seat_type": "standard", "price": 120000}],
        # 12:30 UTC is 19:30 in Ho Chi Minh City (UTC+7)
        "show_starts_at": starts.isoformat(),
        "show_date": starts.date().isoformat(),
        "show_time": "19:30:00",
        "checked_in_at": None,
    }
    booking.update(changes)
    return booking


def stand_in_site(make_settings, answers: dict[str, Any], demo: bool = False) -> httpx.AsyncClient:
    """The site over an API that answers `answers[path]` (a dict/list: 200; an int: that
    status with an error body in the design's shape)."""
    seen: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        answer = answers.get(request.url.path)
        if isinstance(answer, int):
            body = {"detail": "Service unavailable", "status_code": answer, "error_type": "X"}
            return httpx.Response(answer, json=body)
        if isinstance(answer, str):
            return httpx.Response(200, text=answer)  # not JSON: the site breaks on it
        if answer is None:
            return httpx.Response(404, json={"detail": "Not found", "error_type": "NotFound"})
        return httpx.Response(200, json=answer)

    settings = make_settings("sqlite", BOXOFFICE_DEMO_DATA=demo)
    app = create_web_app(settings, httpx.MockTransport(handle))
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app, raise_app_exceptions=False), base_url="http://testserver"
    )
    client.cookies.set("bo_token", TOKEN)
    client.seen = seen  # type: ignore[attr-defined]
    return client


async def test_outside_demo_mode_the_pay_form_has_no_test_cards(make_settings):
    booking = a_booking()
    answers = {
        "/api/auth/verify": {"user": USER},
        "/api/notifications/notifications/unread-count": {"unread": 3},
        f"/api/bookings/bookings/{booking['id']}": booking,
        f"/api/movies/showtimes/{booking['showtime_id']}": {"timezone": "Asia/Ho_Chi_Minh"},
    }
    async with stand_in_site(make_settings, answers) as client:
        page = (await client.get(f"/bookings/{booking['id']}")).text
        assert 'data-testid="pay"' in page
        assert 'data-testid="card"' not in page and "Test card" not in page
        assert "19:30, " in page  # the theater's clock, not UTC
        text = re.sub(r"<[^>]*>", " ", page)  # what the visitor reads
        assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:", text)
        assert 'data-count="3"' in page  # the header's badge
    async with stand_in_site(make_settings, answers, demo=True) as client:
        page = await client.get(f"/bookings/{booking['id']}")
        assert 'data-testid="card"' in page.text


async def test_a_service_down_is_named_and_the_visitor_stays_logged_in(make_settings):
    answers: dict[str, Any] = {
        "/api/auth/verify": {"user": USER},
        "/api/notifications/notifications/unread-count": {"unread": 0},
        "/api/bookings/bookings": 503,
    }
    async with stand_in_site(make_settings, answers) as client:
        page = await client.get("/bookings")
        assert page.status_code == 503
        assert "The booking service is not answering" in page.text
        assert 'data-testid="logout"' in page.text

        # Rate limited, /verify included: the header still shows who it was a moment ago.
        await client.get("/")
        answers["/api/auth/verify"] = 429
        answers["/api/bookings/bookings"] = 429
        page = await client.get("/bookings")
        assert page.status_code == 429
        assert "Slow down" in page.text
        assert 'data-testid="logout"' in page.text and USER["email"] in page.text

        # Something the site did not expect: a friendly 500 page, no traceback.
        answers["/api/auth/verify"] = {"user": USER}
        answers["/api/notifications/notifications"] = "<html>not json</html>"
        page = await client.get("/notifications")
        assert page.status_code == 500
        assert "Something went wrong on our side" in page.text
        assert "Traceback" not in page.text and "JSONDecodeError" not in page.text


def test_the_calendar_entry_is_valid_icalendar():
    booking = a_booking(status="confirmed", payment_status="paid", movie_title="A; B, C")
    ics = calendar_entry(booking, 166, dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    lines = ics.split("\r\n")
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-2] == "END:VCALENDAR" and lines[-1] == ""
    assert "\n" not in ics.replace("\r\n", "")
    assert all(len(line.encode()) <= 75 for line in lines)
    starts = dt.datetime.fromisoformat(booking["show_starts_at"])
    assert f"DTSTART:{starts:%Y%m%dT%H%M%S}Z" in lines
    assert f"DTEND:{starts + dt.timedelta(minutes=166):%Y%m%dT%H%M%S}Z" in lines
    assert "SUMMARY:A\\; B\\, C" in lines
    assert f"UID:{booking['id']}@boxoffice" in lines


def test_the_refund_rule_as_it_applies_to_each_booking():
    now = dt.datetime.now(dt.UTC)
    tz = dt.timezone(dt.timedelta(hours=7))
    paid = a_booking(status="confirmed", payment_status="paid")
    assert refund_terms(paid, now, tz)["can_cancel"]
    assert "full 240,000 ₫ back" in refund_terms(paid, now, tz)["applies"]
    started = a_booking(status="confirmed", payment_status="paid", show_starts_at=now.isoformat())
    assert not refund_terms(started, now, tz)["can_cancel"]
    used = a_booking(status="confirmed", payment_status="paid", checked_in_at=now.isoformat())
    assert "checked in" in refund_terms(used, now, tz)["applies"]
    assert "nothing is charged" in refund_terms(a_booking(), now, tz)["applies"]


def test_a_page_confirming_a_payment_turns_into_the_ticket_by_itself(site: str, browser: Browser):
    """The pay route waits a few seconds for the confirmation; when it takes longer, the page
    says it is confirming and shows the ticket once it is (here: paid from a second tab)."""
    context = browser.new_context()
    waiting = context.new_page()
    sign_up(waiting, site, "mona")
    ticket_url = book(waiting, site)
    paying = context.new_page()
    paying.goto(ticket_url)

    waiting.goto(f"{ticket_url}?paying=1")
    expect(waiting.locator("[data-testid=confirming]")).to_contain_text("Confirming your payment")
    expect(waiting.locator("[data-testid=pay]")).to_have_count(0)
    pay(paying)
    expect_ticket(waiting)
    assert "paying" not in waiting.url
