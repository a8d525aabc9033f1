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


# Seats from the left end of the last row nobody has touched yet: stories that share one system
# (the distributed mode's is started once a session) never reach for each other's seats, and a
# pick from a row's end strands no single seat.
_FREE_SEATS = """count => {
  const rows = Array.from(document.querySelectorAll('.seatmap [role=row]')).reverse();
  for (const row of rows) {
    const inputs = Array.from(row.querySelectorAll('input[name=seat_ids]'));
    if (inputs.length >= count && inputs.every(i => i.dataset.status === 'available')) {
      return inputs.slice(0, count).map(i => i.dataset.seat);
    }
  }
  return [];
}"""


def free_seats(page: Page, count: int) -> list[str]:
    """`count` seats side by side, in a row where every seat is still free (e.g. ["H1", "H2"])."""
    codes: list[str] = page.evaluate(_FREE_SEATS, count)
    assert len(codes) == count, "no untouched row left on this showtime"
    return codes


def book(page: Page, base: str, count: int = 1) -> str:
    """Open a showtime, pick `count` free seats, book them: on the booking page; its URL."""
    open_a_showtime(page, base)
    pick_seats(page, *free_seats(page, count))
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
