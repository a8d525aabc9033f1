"""The issue's whole stories, each as a customer, staff member or admin lives it, in both run
modes; and every main page looked at (a screenshot, axe-core) on a desktop and on a phone."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.journey import (
    expect_ticket,
    free_seats,
    open_a_showtime,
    pay,
    pick_seats,
    sign_up,
)
from tests.browser.look import look_at
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
_OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"


def a_showtime_in_a_city(base: str) -> dict[str, Any]:
    """A showtime of the catalog that has a city: the one the story searches for."""
    shows = httpx.get(f"{base}/api/movies/showtimes", params={"limit": 50}).json()
    return next(s for s in shows if s.get("city"))


def focused_seat(page: Page) -> str:
    """The code of the seat that has the keyboard focus ("E7"), or "" when none has."""
    return str(page.evaluate("() => document.activeElement?.dataset?.seat || ''"))


def test_a_new_customer_finds_a_movie_by_city_and_date_picks_by_keyboard_and_gets_the_qr(
    any_site: str, browser: Browser
):
    show = a_showtime_in_a_city(any_site)
    page = browser.new_context(**DESKTOP).new_page()
    sign_up(page, any_site, "iris")

    # Find the movie by city and date, then its showtime on the movie page.
    page.goto(any_site + "/")
    page.get_by_label("City").select_option(show["city"])
    page.get_by_label("Date").fill(show["show_date"])
    page.get_by_test_id("search").click()
    card = page.locator(".movie-card", has_text=show["movie_title"])
    card.get_by_role("link").first.click()
    day = page.locator(f'.show-day[data-date="{show["show_date"]}"]')
    day.locator(".show-theater", has_text=show["theater_name"]).get_by_role(
        "link", name=re.compile("^" + show["show_time"][:5])
    ).first.click()
    expect(page).to_have_url(re.compile(f"/showtimes/{show['id']}$"))

    # Keyboard only: Tab into the map, arrows to a free row, Space picks two seats.
    wanted = free_seats(page, 2)
    page.get_by_role("heading", level=1).click()
    page.keyboard.press("Tab")
    for _ in range(40):
        if focused_seat(page)[:1] == wanted[0][:1]:
            break
        page.keyboard.press("ArrowDown")
    page.keyboard.press("Home")
    assert focused_seat(page) == wanted[0]
    page.keyboard.press("Space")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Space")
    grid = page.get_by_role("grid", name="Seat map")
    for code in wanted:
        expect(grid.get_by_role("checkbox", name=f"Seat {code}", exact=True)).to_have_attribute(
            "data-status", "mine"
        )
    expect(page.get_by_test_id("selected-seats")).to_have_text(f"Seats {', '.join(wanted)}")
    page.get_by_test_id("book").focus()
    page.keyboard.press("Enter")

    expect(page.locator("[data-testid=booking-status]")).to_have_text("pending")
    pay(page)
    expect_ticket(page)  # with no reload: the ticket and its QR come by themselves


def test_a_phone_books_a_ticket_end_to_end(any_site: str, browser: Browser):
    page = browser.new_context(**PHONE).new_page()
    sign_up(page, any_site, "pia")
    assert page.evaluate(_OVERFLOW) <= 0, "the home page scrolls sideways on a phone"
    open_a_showtime(page, any_site)
    assert page.evaluate(_OVERFLOW) <= 0, "the seat map page scrolls sideways on a phone"
    codes = free_seats(page, 1)
    pick_seats(page, *codes)
    page.get_by_test_id("book").tap()
    expect(page.locator("[data-testid=booking-status]")).to_have_text("pending")
    assert page.evaluate(_OVERFLOW) <= 0, "the booking page scrolls sideways on a phone"
    pay(page)
    expect_ticket(page)
    expect(page.locator("main")).to_contain_text(codes[0])
    page.goto(any_site + "/bookings")
    expect(page.locator("[data-testid=ticket-card]").first).to_be_visible()
    assert page.evaluate(_OVERFLOW) <= 0, "My tickets scrolls sideways on a phone"


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_every_main_page_passes_axe_and_is_photographed(site: str, browser: Browser, device):
    """Home, movie, seat map, booking, ticket and the customer's other pages; then the door's
    check-in and the admin's pages: each saved as a screenshot and checked by axe-core."""
    options = PHONE if device == "phone" else DESKTOP
    page = browser.new_context(**options).new_page()
    page.goto(site + "/login")
    look_at(page, "login")
    page.goto(site + "/register")
    look_at(page, "register")
    sign_up(page, site, "axel")
    look_at(page, "home")
    page.locator("a[href^='/movies/']").first.click()
    expect(page.locator("h1")).to_be_visible()
    look_at(page, "movie")
    page.locator("a[href^='/showtimes/']").first.click()
    expect(page.locator("#seat-form")).to_be_visible()
    pick_seats(page, *free_seats(page, 2))
    look_at(page, "seat-map")
    page.get_by_test_id("book").click()
    expect(page.locator("[data-testid=booking-status]")).to_have_text("pending")
    look_at(page, "booking")
    pay(page)
    expect_ticket(page)
    code = page.locator("[data-testid=booking-code]").inner_text()
    look_at(page, "ticket")
    for path, name in (
        ("/bookings", "my-tickets"),
        ("/notifications", "notifications"),
        ("/profile", "profile"),
        ("/bookings/not-a-real-id", "not-found"),
    ):
        page.goto(site + path)
        look_at(page, name)

    admin = browser.new_context(**options).new_page()
    admin.goto(f"{site}/login?next=/check-in")
    admin.fill("input[name=username]", ADMIN_EMAIL)
    admin.fill("input[name=password]", ADMIN_PASSWORD)
    admin.click("[data-testid=login]")
    expect(admin).to_have_url(re.compile("/check-in$"))
    look_at(admin, "check-in")
    admin.get_by_label("Booking code").fill(code)
    admin.click("[data-testid=check-in]")
    expect(admin.locator("main")).to_contain_text(code)
    look_at(admin, "check-in-result")
    booking = httpx.get(
        f"{site}/api/bookings/bookings",
        params={"booking_code": code, "scope": "all"},
        headers={"Authorization": f"Bearer {admin_token(site)}"},
    ).json()
    show_id = booking[0]["showtime_id"]
    for path, name in (
        ("/admin", "admin-catalog"),
        ("/admin/users", "admin-users"),
        ("/admin/sales", "admin-sales"),
        (f"/admin/sales/showtimes/{show_id}", "admin-showtime-sales"),
    ):
        admin.goto(site + path)
        expect(admin.locator("h1")).to_be_visible()
        look_at(admin, name)
        assert admin.evaluate(_OVERFLOW) <= 0, f"{path} scrolls sideways ({device})"
    # Every menu item of the longest menu (an admin's) is on screen, none past the edge.
    for link in admin.locator("header nav a").all():
        expect(link).to_be_in_viewport(ratio=1)


def admin_token(base: str) -> str:
    answer = httpx.post(
        f"{base}/api/auth/token", data={"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    answer.raise_for_status()
    return str(answer.json()["access_token"])
