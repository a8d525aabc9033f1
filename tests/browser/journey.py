"""Steps the ticket and account stories share: sign up, open a showtime, book and pay."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Locator, Page, expect

PASSWORD = "secret123"


def sign_up(page: Page, base: str, name: str) -> str:
    """A new customer, logged in; returns their e-mail."""
    tag = uuid.uuid4().hex[:8]
    email = f"{name}-{tag}@example.com"
    page.goto(f"{base}/register")
    page.fill("input[name=email]", email)
    page.fill("input[name=username]", f"{name}{tag}")
    page.fill("input[name=full_name]", name.title())
    page.fill("input[name=password]", PASSWORD)
    page.click("[data-testid=register]")
    expect(page.locator(".notice")).to_contain_text("Welcome")
    expect(page.locator("[data-testid=logout]")).to_contain_text(email)
    return email


def open_a_showtime(page: Page, base: str) -> str:
    """From the home page: the first movie, then its first showtime; the seat map's URL."""
    page.goto(base + "/")
    page.locator("a[href^='/movies/']").first.click()
    expect(page.locator("h1")).to_be_visible()
    page.locator("a[href^='/showtimes/']").first.click()
    expect(page.locator("#seat-form")).to_be_visible()
    return page.url


def seat(page: Page, code: str) -> Locator:
    """The seat map's cell for seat `code` (e.g. "E7"): its control is named "Seat E7"."""
    control = f'input[aria-label="Seat {code}"], input[aria-label^="Seat {code} "]'
    return page.locator(".seatmap .seat", has=page.locator(control))


def pick_seats(page: Page, *codes: str) -> None:
    """Click each seat; each turns "yours" (held for this customer)."""
    for code in codes:
        seat(page, code).click()
        expect(seat(page, code)).to_have_class(re.compile(r"\bmine\b"))


def book(page: Page, base: str, *codes: str) -> str:
    """Open a showtime, pick `codes`, book them: on the booking page; returns its URL."""
    open_a_showtime(page, base)
    pick_seats(page, *codes)
    page.click("[data-testid=book]")
    expect(page.locator("[data-testid=booking-status]")).to_have_text("pending")
    return page.url


def pay(page: Page, card: str = "tok_visa") -> None:
    """Pay the booking on screen with a demo test card."""
    page.select_option("[data-testid=card]", card)
    page.click("[data-testid=pay]")


def expect_ticket(page: Page) -> None:
    """The confirmed ticket is on screen (it got there by itself), nothing contradicting it."""
    expect(page.locator("[data-testid=booking-status]")).to_have_text("confirmed", timeout=15000)
    expect(page.locator("[data-testid=qr]")).to_be_visible()
    body = page.locator("main")
    expect(body).not_to_contain_text("unpaid")
    expect(body).not_to_contain_text(re.compile("failed", re.I))
    expect(page.locator("[data-testid=pay]")).to_have_count(0)
