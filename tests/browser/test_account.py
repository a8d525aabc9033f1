"""The visitor's account in a real browser: the notifications badge, the profile and password,
and the pages for what went wrong (with the site's header, and the login page that brings the
visitor back)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.journey import PASSWORD, book, expect_ticket, pay, sign_up

pytestmark = pytest.mark.browser


def log_in(page: Page, user: str, password: str) -> None:
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("[data-testid=login]")


def test_unread_badge_and_mark_all_read(site: str, browser: Browser):
    page = browser.new_context().new_page()
    sign_up(page, site, "gina")
    book(page, site)
    pay(page)
    expect_ticket(page)

    # The booking's confirmation arrives as a notice: the header counts it.
    badge = page.locator("[data-testid=unread-badge]")
    for _ in range(40):  # the notice is made from the booking's event, a moment later
        page.goto(f"{site}/")
        if badge.count():
            break
        page.wait_for_timeout(250)
    expect(badge).to_be_visible()
    assert int(badge.get_attribute("data-count") or "0") >= 1

    page.click("[data-testid=nav-notifications]")
    expect(page.locator(".notes li.unread").first).to_be_visible()
    page.click("[data-testid=read-all]")
    expect(page.locator(".notice")).to_contain_text("marked read")
    expect(page.locator(".notes li.unread")).to_have_count(0)
    expect(page.locator("[data-testid=unread-badge]")).to_have_count(0)


def test_profile_name_change_and_password_change(site: str, browser: Browser):
    page = browser.new_context().new_page()
    email = sign_up(page, site, "hugo")
    page.click("[data-testid=nav-profile]")
    expect(page.locator("[data-testid=profile-email]")).to_have_text(email)

    page.fill("input[name=full_name]", "Hugo Renamed")
    page.click("[data-testid=save-profile]")
    expect(page.locator(".notice")).to_contain_text("saved")
    expect(page.locator("input[name=full_name]")).to_have_value("Hugo Renamed")

    # A wrong current password changes nothing, and says so.
    page.fill("input[name=current_password]", "not-my-password")
    page.fill("input[name=new_password]", "brand-new-pass-42")
    page.fill("input[name=confirm_password]", "brand-new-pass-42")
    page.click("[data-testid=change-password]")
    expect(page.locator(".error")).to_contain_text("current password is not right")

    page.fill("input[name=current_password]", PASSWORD)
    page.fill("input[name=new_password]", "brand-new-pass-42")
    page.fill("input[name=confirm_password]", "brand-new-pass-42")
    page.click("[data-testid=change-password]")
    expect(page.locator(".notice")).to_contain_text("password is changed")
    # Still logged in (with a fresh login), on the profile page.
    expect(page.locator("[data-testid=logout]")).to_contain_text(email)
    expect(page.locator("h1")).to_have_text("Your profile")

    page.click("[data-testid=logout]")
    page.goto(f"{site}/login")
    log_in(page, email, PASSWORD)
    expect(page.locator(".error")).to_contain_text("Wrong e-mail/username or password")
    log_in(page, email, "brand-new-pass-42")
    expect(page.locator("[data-testid=logout]")).to_contain_text(email)


def test_logged_out_visitor_is_sent_to_log_in(site: str, browser: Browser):
    page = browser.new_context().new_page()
    for path in ("/profile", "/bookings", "/admin", "/notifications"):
        page.goto(f"{site}{path}")
        expect(page.locator("h1")).to_have_text("Log in")
        assert f"next={path.replace('/', '%2F')}" in page.url, page.url


def test_logged_in_errors_keep_the_visitor_and_the_header(site: str, browser: Browser):
    page = browser.new_context().new_page()
    email = sign_up(page, site, "jane")
    response = page.goto(f"{site}/bookings/not-a-real-id")
    assert response is not None and response.status == 404
    expect(page.locator("header.top")).to_be_visible()
    expect(page.locator("[data-testid=logout]")).to_contain_text(email)
    expect(page.locator("h1")).to_have_text("Not found")
    expect(page.locator("main")).not_to_contain_text("uuid")
    expect(page.locator("main")).not_to_contain_text("{")

    response = page.goto(f"{site}/no-such-page")
    assert response is not None and response.status == 404
    expect(page.locator("[data-testid=error-page]")).to_be_visible()

    # A customer is not staff: the check-in of the admin's pages is not theirs.
    response = page.goto(f"{site}/admin")
    assert response is not None and response.status == 403
    expect(page.locator("h1")).to_have_text("Not allowed")
    expect(page.locator("[data-testid=logout]")).to_contain_text(email)


def test_login_brings_the_visitor_back(site: str, browser: Browser):
    page = browser.new_context().new_page()
    email = sign_up(page, site, "kim")
    page.click("[data-testid=logout]")
    page.goto(f"{site}/profile")
    expect(page.locator("h1")).to_have_text("Log in")
    log_in(page, email, PASSWORD)
    expect(page.locator("h1")).to_have_text("Your profile")
    assert page.url.endswith("/profile")


def test_a_phone_gets_a_compact_header_and_pages_that_fit(site: str, browser: Browser):
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = phone.new_page()
    sign_up(page, site, "lou")
    book(page, site)
    pay(page)
    expect_ticket(page)
    for path in ("/", "/bookings", "/notifications", "/profile", "/bookings/not-a-real-id"):
        page.goto(f"{site}{path}")
        header = page.locator("header.top").bounding_box()
        assert header is not None and header["height"] <= 100, (path, header)  # two rows at most
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= 390, (path, wide)  # nothing to scroll sideways to
    page.goto(f"{site}/bookings")
    card = page.locator("[data-testid=ticket-card]").first
    box = card.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
