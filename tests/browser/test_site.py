"""A customer's evening on the web site, in a real browser: sign up, find a movie, pick seats on
the seat map (each click holds the seat), book, pay, and get the e-ticket; a second customer
sees those seats taken at once."""

from __future__ import annotations

import base64
import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.journey import sign_up
from tests.qr import read_qr

pytestmark = pytest.mark.browser


def seat(page: Page, code: str):
    """The seat map's cell for seat `code` (e.g. "E7"): its control is named "Seat E7"."""
    return page.locator(".seatmap .seat", has=page.locator(f'input[aria-label="Seat {code}"]'))


def open_first_dune_showtime(page: Page, base: str) -> str:
    page.goto(base + "/")
    page.fill("input[name=q]", "dune")
    page.click("form.search button")
    cards = page.locator(".movie-card")
    expect(cards).to_have_count(1)
    cards.first.locator("a").click()
    expect(page.locator("h1")).to_have_text("Dune: Part Two")
    page.locator(".showtimes a").first.click()
    expect(page.locator("#seat-form")).to_be_visible()
    return page.url


def test_customer_picks_seats_books_pays_and_gets_a_ticket(site: str, browser: Browser):
    alice = browser.new_context().new_page()
    sign_up(alice, site, "alice")
    showtime_url = open_first_dune_showtime(alice, site)
    free_before = int(alice.locator("[data-testid=available-count]").inner_text())

    # Each click holds the seat at once: it turns "yours".
    for code in ("E7", "E8"):
        seat(alice, code).click()
        expect(seat(alice, code)).to_have_class(re.compile(r"\bmine\b"))

    # Another customer looking at the same showtime sees them held, and cannot take them.
    bob = browser.new_context().new_page()
    sign_up(bob, site, "bob")
    bob.goto(showtime_url)
    for code in ("E7", "E8"):
        expect(seat(bob, code)).to_have_class(re.compile(r"\bheld\b"))
        expect(seat(bob, code).locator("input")).to_be_disabled()

    # Alice books them and pays with an approved card.
    alice.click("[data-testid=book]")
    expect(alice.locator("[data-testid=booking-status]")).to_have_text("pending")
    code = alice.locator("[data-testid=booking-code]").inner_text()
    assert re.fullmatch(r"[A-Z0-9]{6,20}", code)
    alice.select_option("[data-testid=card]", "tok_visa")
    alice.click("[data-testid=pay]")
    # The booking is confirmed by the payment's event, a moment later: the page gets there
    # by itself, with no reload.
    expect(alice.locator("[data-testid=booking-status]")).to_have_text("confirmed", timeout=15000)
    expect(alice.locator("[data-testid=qr]")).to_be_visible()
    # What the scanner at the door reads from the ticket is the booking's code.
    qr = alice.locator("[data-testid=qr]").get_attribute("src") or ""
    assert read_qr(base64.b64decode(qr.removeprefix("data:image/png;base64,"))) == [code]

    # The ticket is in "My tickets", and the seats read as sold to everyone else.
    alice.goto(f"{site}/bookings")
    expect(alice.locator("[data-testid=upcoming]")).to_contain_text(code)
    bob.goto(showtime_url)
    for code_ in ("E7", "E8"):
        expect(seat(bob, code_)).to_have_class(re.compile(r"\bbooked\b"))
    assert int(bob.locator("[data-testid=available-count]").inner_text()) == free_before - 2


def test_declined_card_leaves_the_booking_pending_with_a_clear_message(site: str, browser: Browser):
    page = browser.new_context().new_page()
    sign_up(page, site, "carol")
    open_first_dune_showtime(page, site)
    seat(page, "C3").click()
    expect(seat(page, "C3")).to_have_class(re.compile(r"\bmine\b"))
    page.click("[data-testid=book]")
    page.select_option("[data-testid=card]", "tok_decline")
    page.click("[data-testid=pay]")
    expect(page.locator(".error")).to_contain_text("Your card was declined")
    expect(page.locator("[data-testid=booking-status]")).to_have_text("pending")
    expect(page.locator("[data-testid=pay]")).to_be_visible()


def test_visitor_must_log_in_to_pick_seats_and_a_wrong_password_is_explained(
    site: str, browser: Browser
):
    page = browser.new_context().new_page()
    open_first_dune_showtime(page, site)
    expect(page.locator("text=Log in to book")).to_be_visible()
    seat(page, "A1").click()
    expect(page.locator("#seat-message")).to_have_text("Log in to pick seats.")
    expect(seat(page, "A1")).not_to_have_class(re.compile(r"\bmine\b"))

    page.goto(f"{site}/login")
    page.fill("input[name=username]", "nobody@example.com")
    page.fill("input[name=password]", "wrong-password")
    page.click("[data-testid=login]")
    expect(page.locator(".error")).to_contain_text("Wrong e-mail/username or password")
