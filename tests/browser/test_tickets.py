"""A customer's tickets in a real browser: booking, paying (the ticket appears by itself),
a declined card and a retry, My tickets, the calendar entry and cancelling."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.journey import book, expect_ticket, open_a_showtime, pay, pick_seats, sign_up

pytestmark = pytest.mark.browser


def test_new_customer_books_pays_and_the_ticket_appears_by_itself(any_site: str, browser: Browser):
    page = browser.new_context().new_page()
    sign_up(page, any_site, "dana")
    open_a_showtime(page, any_site)
    pick_seats(page, "E7", "E8")
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
    book(page, any_site, "C3")
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
    book(page, site, "D4")
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
    ticket_url = book(page, site, "F5", "F6")
    code = page.locator("[data-testid=booking-code]").inner_text()
    pay(page)
    expect_ticket(page)

    # My tickets: cards under "Upcoming", with the status.
    page.goto(f"{site}/bookings")
    upcoming = page.locator("[data-testid=upcoming]")
    card = upcoming.locator("[data-testid=ticket-card]", has_text=code)
    expect(card).to_be_visible()
    expect(card).to_contain_text("confirmed")
    expect(card).to_contain_text("F5, F6")

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
