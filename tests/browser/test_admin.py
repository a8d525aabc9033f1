"""Staff and admin on the web site, in a real browser: the door's check-in page, the catalog,
the users page, and the sales pages.

The customer's part of these stories (registering, booking and paying) goes through the API
here, as a phone app would: what is under test is what staff and admins see.
"""

from __future__ import annotations

import datetime as dt
import re
import time
import uuid
import zoneinfo
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.journey import expect_ticket, pay, pick_seats, sign_up
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

pytestmark = pytest.mark.browser


# -- the customer, through the API ---------------------------------------------------------


class Customer:
    """A new customer on the system's API."""

    def __init__(self, base: str) -> None:
        tag = uuid.uuid4().hex[:8]
        self.api = httpx.Client(base_url=base, timeout=20)
        self.email, self.password = f"cust-{tag}@example.com", "secret123"
        made = self.api.post(
            "/api/auth/register",
            json={"email": self.email, "username": f"cust{tag}", "password": self.password},
        )
        assert made.status_code == 201, made.text
        login = self.api.post(
            "/api/auth/token", data={"username": self.email, "password": self.password}
        )
        assert login.status_code == 200, login.text
        self.api.headers["Authorization"] = f"Bearer {login.json()['access_token']}"

    def seat_ids(self, showtime: dict[str, Any], *labels: str) -> list[str]:
        seats = self.api.get(f"/api/movies/seats/{showtime['theater_id']}").json()
        by_label = {f"{s['seat_row']}{s['seat_number']}": s["id"] for s in seats}
        return [by_label[label] for label in labels]

    def book_and_pay(self, showtime: dict[str, Any], *labels: str) -> dict[str, Any]:
        booked = self.api.post(
            "/api/bookings/book",
            json={"showtime_id": showtime["id"], "seat_ids": self.seat_ids(showtime, *labels)},
        )
        assert booked.status_code == 201, booked.text
        booking = booked.json()
        paid = self.api.post(
            "/api/payments/process",
            headers={"Idempotency-Key": uuid.uuid4().hex},
            json={
                "booking_id": booking["id"],
                "payment_method": "credit_card",
                "amount": booking["total_price"],
            },
        )
        assert paid.status_code == 201, paid.text
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # the payment's event confirms it a moment later
            now = self.api.get(f"/api/bookings/bookings/{booking['id']}").json()
            if now["status"] == "confirmed":
                return now  # type: ignore[no-any-return]
            time.sleep(0.1)
        raise AssertionError(f"booking {booking['id']} was never confirmed")


def first_showtime(base: str, **params: str) -> dict[str, Any]:
    found = httpx.get(f"{base}/api/movies/showtimes", params={"limit": 1, **params}).json()
    assert found, params
    return found[0]  # type: ignore[no-any-return]


# -- the browser -----------------------------------------------------------------------------


def log_in(page: Page, base: str, email: str, password: str, path: str = "/") -> None:
    page.goto(f"{base}/login?next={path}")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", password)
    page.click("[data-testid=login]")
    expect(page.locator("[data-testid=logout]")).to_contain_text(email)


def as_admin(browser: Browser, base: str, path: str = "/admin") -> Page:
    page = browser.new_context().new_page()
    log_in(page, base, ADMIN_EMAIL, ADMIN_PASSWORD, path)
    return page


def create_account(admin: Page, base: str, role: str = "staff") -> tuple[str, str]:
    """An account made on the admin's Users page: (e-mail, password)."""
    email, password = f"{role}-{uuid.uuid4().hex[:8]}@example.com", "door-secret-9"
    admin.goto(f"{base}/admin/users")
    form = admin.locator("[data-testid=new-user]")
    form.get_by_label("E-mail").fill(email)
    form.get_by_label("Full name").fill("Door Keeper")
    form.get_by_label("Password").fill(password)
    form.get_by_label("Role").select_option(role)
    form.get_by_role("button", name="Create account").click()
    expect(admin.locator(".notice")).to_contain_text(f"Account {email} created ({role})")
    expect(admin.locator(f'tr[data-email="{email}"]')).to_contain_text("active")
    return email, password


def check_in(page: Page, code: str) -> None:
    page.get_by_label("Booking code").fill(code)
    page.click("[data-testid=check-in]")


def test_staff_checks_a_ticket_in_twice_and_the_second_scan_says_it_was_used(
    any_site: str, browser: Browser
):
    admin = as_admin(browser, any_site)
    staff_email, staff_password = create_account(admin, any_site, "staff")

    show = first_showtime(any_site)
    ticket = Customer(any_site).book_and_pay(show, "D5")

    door = browser.new_context().new_page()
    log_in(door, any_site, staff_email, staff_password, "/check-in")
    expect(door.get_by_role("link", name="Check-in")).to_be_visible()
    door.goto(f"{any_site}/check-in")
    check_in(door, ticket["booking_code"].lower())  # codes are read as typed
    outcome = door.locator("[data-testid=checkin-outcome]")
    today = dt.datetime.now(zoneinfo.ZoneInfo(show["timezone"])).date().isoformat()
    if show["show_date"] != today:
        # A ticket for another day: shown with the warning, checked in only when staff confirm.
        expect(outcome.locator(".verdict")).to_have_text("Check this ticket")
        expect(outcome.locator(".checkin-warning")).to_contain_text("a later day")
        door.click("[data-testid=check-in-anyway]")
    expect(outcome.locator(".verdict")).to_have_text("Checked in")
    expect(door.locator("[data-testid=checkin-movie]")).to_have_text(show["movie_title"])
    expect(door.locator("[data-testid=checkin-hall]")).to_contain_text(show["theater_name"])
    expect(door.locator("[data-testid=checkin-seats]")).to_have_text("D5")
    show_day = dt.date.fromisoformat(show["show_date"])
    expect(door.locator("[data-testid=checkin-day]")).to_have_text(
        f"{show_day:%a} {show_day.day} {show_day:%b %Y}"
    )
    expect(door.locator("[data-testid=checkin-time]")).to_contain_text(show["show_time"][:5])

    check_in(door, ticket["booking_code"])
    expect(outcome.locator(".verdict")).to_have_text("Already used")
    expect(outcome).to_have_attribute("role", "alert")
    expect(door.locator("[data-testid=used-at]")).to_have_text(re.compile(r"^\d\d:\d\d, \w{3} "))
    expect(door.locator("[data-testid=checkin-movie]")).to_have_text(show["movie_title"])

    check_in(door, "BKNOSUCH99")
    expect(outcome.locator(".verdict")).to_have_text("Not checked in")

    # A ticket for a show two days from now: the door is warned, and decides.
    later_day = dt.date.fromisoformat(today) + dt.timedelta(days=2)
    later = Customer(any_site).book_and_pay(
        first_showtime(any_site, date=later_day.isoformat()), "D6"
    )
    check_in(door, later["booking_code"])
    expect(outcome.locator(".verdict")).to_have_text("Check this ticket")
    expect(outcome.locator(".checkin-warning")).to_contain_text(
        f"This ticket is for {later_day:%a} {later_day.day} {later_day:%b %Y}"
    )
    check_in(door, later["booking_code"])  # not checked in yet: asked again
    expect(outcome.locator(".verdict")).to_have_text("Check this ticket")
    door.click("[data-testid=check-in-anyway]")
    expect(outcome.locator(".verdict")).to_have_text("Checked in")
    expect(outcome.locator(".checkin-warning")).to_contain_text("a later day")


def test_admin_schedules_a_showtime_a_customer_buys_and_the_sales_page_shows_it(
    any_site: str, browser: Browser
):
    admin = as_admin(browser, any_site)
    hall = f"Hall {uuid.uuid4().hex[:6]}"
    new_theater = admin.locator("form[action='/admin/theaters']")
    new_theater.get_by_label("Name").fill(hall)
    new_theater.get_by_label("Address").fill("12 Test Street")
    new_theater.get_by_label("City").fill("Hue")
    new_theater.get_by_label("Rows", exact=True).fill("3")
    new_theater.get_by_label("Seats a row").fill("4")
    new_theater.get_by_label("VIP rows").fill("C")
    new_theater.get_by_role("button", name="Add theater").click()
    expect(admin.locator(".notice")).to_contain_text(f"Added {hall}")
    expect(admin.locator("[data-testid=theaters]")).to_contain_text(hall)

    day = dt.date.today() + dt.timedelta(days=3)
    form = admin.locator("[data-testid=new-showtime]")
    form.get_by_label("Movie").select_option(label="Dune: Part Two")
    form.get_by_label("Theater").select_option(label=f"{hall} (Hue)")
    form.get_by_label("Date").fill(day.isoformat())
    form.get_by_label("Time").fill("20:15")
    form.get_by_label("Price").fill("110000")
    form.get_by_role("button", name="Add showtime").click()
    expect(admin.locator(".notice")).to_contain_text("Showtime added")
    admin.get_by_label("Day", exact=True).fill(day.isoformat())
    admin.get_by_role("button", name="Show that day").click()
    row = admin.locator("[data-testid=showtimes] tr", has_text=hall)
    expect(row).to_contain_text("20:15")
    expect(row).to_contain_text("110,000 ₫")

    theater = next(
        t
        for t in httpx.get(f"{any_site}/api/movies/theaters", params={"limit": 200}).json()
        if t["name"] == hall
    )
    show = first_showtime(any_site, theater_id=theater["id"])
    assert (show["show_date"], show["show_time"][:5]) == (day.isoformat(), "20:15")
    # A customer books a seat of it on the site: the seat map, the booking, the payment.
    customer = browser.new_context().new_page()
    sign_up(customer, any_site, "cleo")
    customer.goto(f"{any_site}/showtimes/{show['id']}")
    pick_seats(customer, "B2")
    customer.get_by_test_id("book").click()
    pay(customer)
    expect_ticket(customer)

    admin.goto(f"{any_site}/admin/sales")
    admin.get_by_label("Showtimes of the day").fill(day.isoformat())
    admin.get_by_role("button", name="Show them").click()
    admin.locator("[data-testid=sales-showtimes] tr", has_text=hall).get_by_role(
        "link", name=re.compile("^Sales")
    ).click()
    expect(admin.locator("h1")).to_have_text("Sales: Dune: Part Two")
    expect(admin.locator("[data-testid=sold]")).to_have_text("1")
    expect(admin.locator("[data-testid=revenue]")).to_have_text("110,000 ₫")
    expect(admin.locator("[data-testid=occupancy]")).to_have_text("8.3 %")
    expect(admin.locator("[data-testid=revenue-by-type] tbody")).to_contain_text("Standard")
    sold_seat = admin.get_by_role("img", name="Seat B2", exact=True)
    expect(sold_seat).to_have_attribute("data-status", "booked")
    expect(admin.get_by_role("img", name="Seat B3", exact=True)).to_have_attribute(
        "data-status", "available"
    )

    # The admin moves it to a later time: refused, a seat of it is sold.
    admin.goto(f"{any_site}/admin/showtimes/{show['id']}")
    admin.get_by_label("Time").fill("21:00")
    admin.get_by_role("button", name="Save").click()
    expect(admin.locator(".error")).to_contain_text("booked")
    # ...and takes it off the listings.
    admin.goto(f"{any_site}/admin?day={day}")
    admin.locator("[data-testid=showtimes] tr", has_text=hall).get_by_role(
        "button", name="Deactivate"
    ).click()
    expect(admin.locator(".notice")).to_contain_text("Showtime deactivated")
    listed = httpx.get(f"{any_site}/api/movies/showtimes", params={"theater_id": theater["id"]})
    assert listed.json() == []


def test_the_sales_chart_is_an_svg_image_for_the_chosen_range(site: str, browser: Browser):
    admin = as_admin(browser, site, "/admin/sales")
    today = dt.date.today()
    range_form = admin.locator("[data-testid=sales-range]")
    range_form.get_by_label("From").fill((today - dt.timedelta(days=6)).isoformat())
    range_form.get_by_label("To").fill(today.isoformat())
    range_form.get_by_role("button", name="Show").click()
    chart = admin.locator("img[data-testid=sales-chart]")
    expect(chart).to_be_visible()
    expect(chart).to_have_attribute("alt", re.compile("^Bar chart of daily revenue"))
    assert admin.evaluate("img => img.complete && img.naturalWidth > 0", chart.element_handle()), (
        "the chart did not load"
    )
    svg = admin.request.get(site + str(chart.get_attribute("src")))
    assert svg.ok and svg.headers["content-type"].startswith("image/svg+xml")
    body = svg.text()
    assert body.startswith("<svg") and "<title" in body and "Revenue (₫)" in body
    assert body.count("<rect") >= 1 + 7  # the background and a bar a day

    admin.goto(f"{site}/admin/sales?from=2026-03-02&to=2026-03-01")
    expect(admin.locator("h1")).to_have_text("That did not work")


def test_a_customer_gets_the_not_allowed_page_on_admin_pages(site: str, browser: Browser):
    customer = Customer(site)
    page = browser.new_context().new_page()
    log_in(page, site, customer.email, customer.password)
    for path in ("/admin", "/admin/users", "/admin/sales", "/check-in"):
        response = page.goto(f"{site}{path}")
        assert response is not None and response.status == 403, path
        expect(page.locator("h1")).to_have_text("Not allowed")
    expect(page.get_by_role("link", name="Admin")).to_have_count(0)


def test_logged_out_admin_pages_send_to_the_login_page_and_back(site: str, browser: Browser):
    page = browser.new_context().new_page()
    page.goto(f"{site}/admin")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fadmin$"))
    page.fill("input[name=username]", ADMIN_EMAIL)
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("[data-testid=login]")
    expect(page).to_have_url(f"{site}/admin")
    expect(page.locator("h1")).to_have_text("Catalog")


def test_the_door_is_warned_of_another_day_and_of_an_ended_show():
    from boxoffice.web.staff import warnings

    ticket = {"show_date": "2026-12-04", "show_time": "19:30:00"}
    ticket["show_starts_at"] = "2026-12-04T12:30:00Z"  # 19:30 in Hanoi
    details = {"timezone": "Asia/Ho_Chi_Minh", "minutes": 120}
    evening = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)  # 19:00 in Hanoi, that day
    assert warnings(ticket, details, evening) == []
    day_before = evening - dt.timedelta(days=1)
    assert warnings(ticket, details, day_before) == [
        "This ticket is for Fri 4 Dec 2026 at 19:30, a later day: today is Thu 3 Dec 2026."
    ]
    late = dt.datetime(2026, 12, 4, 15, 0, tzinfo=dt.UTC)  # 22:00 in Hanoi: it ended at 21:30
    assert warnings(ticket, details, late) == [
        "This show has ended: it finished at 21:30, Fri 4 Dec 2026."
    ]
    next_day = late + dt.timedelta(days=1)
    assert len(warnings(ticket, details, next_day)) == 2
    # without the catalog's word, a show long started is still flagged
    assert warnings(ticket, {}, next_day) == ["This show started more than four hours ago."]


def test_admin_edits_a_movie_and_a_theater_and_takes_a_movie_off_and_back(
    site: str, browser: Browser
):
    admin = as_admin(browser, site)
    movies = admin.locator("[data-testid=movies]")
    movies.locator("tr", has_text="Inside Out 2").get_by_role("link", name="Edit").click()
    expect(admin.locator("h1")).to_have_text("Edit movie: Inside Out 2")
    admin.get_by_label("Genre").fill("Family")
    admin.get_by_label("Minutes").fill("97")
    admin.get_by_role("button", name="Save").click()
    expect(admin.locator(".notice")).to_have_text("Saved.")
    expect(admin.get_by_label("Genre")).to_have_value("Family")
    # A number the browser would refuse, sent anyway (as a script could): a 400 page.
    admin.locator("input[name=duration_minutes]").evaluate("input => input.type = 'text'")
    admin.get_by_label("Minutes").fill("ninety")
    admin.get_by_role("button", name="Save").click()
    expect(admin.locator("h1")).to_have_text("That did not work")

    admin.goto(f"{site}/admin")
    row = admin.locator("[data-testid=theaters] tr").nth(1)
    row.get_by_role("link", name="Edit").click()
    admin.get_by_label("Name").fill("Hall of Fame")
    admin.get_by_role("button", name="Save").click()
    expect(admin.locator(".notice")).to_have_text("Saved.")
    admin.get_by_label("Time zone").fill("Asia/Tokyo")  # it has showtimes: refused, explained
    admin.get_by_role("button", name="Save").click()
    expect(admin.locator(".error")).to_contain_text("time zone cannot change")

    admin.goto(f"{site}/admin")
    movie_row = movies.locator("tr", has_text="Inside Out 2")
    movie_row.get_by_role("button", name="Deactivate").click()
    expect(admin.locator(".notice")).to_contain_text("Movie deactivated")
    expect(movie_row).to_contain_text("inactive")
    titles = [m["title"] for m in httpx.get(f"{site}/api/movies/movies").json()]
    assert "Inside Out 2" not in titles
    movie_row.get_by_role("button", name="Reactivate").click()
    expect(admin.locator(".notice")).to_contain_text("Movie active again")
    expect(movie_row).not_to_contain_text("inactive")
