"""The customer's way to a seat, in a real browser: searching by city and date, the live seat map
(two customers see each other's holds without reloading), the keyboard, best seats, the
single-empty-seat warning, and the map on a 390×844 phone."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser.journey import sign_up

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


def seat(page: Page, code: str) -> Locator:
    """Seat `code` (e.g. "E7") as assistive technology finds it: the control named "Seat E7"."""
    return page.get_by_role("grid", name="Seat map").get_by_role(
        "checkbox", name=f"Seat {code}", exact=True
    )


def first_showtime(base: str, **filters: str) -> dict[str, Any]:
    shows = httpx.get(f"{base}/api/movies/showtimes", params={"limit": 1, **filters}).json()
    return shows[0]  # type: ignore[no-any-return]


def money(amount: float) -> str:
    return f"{amount:,.0f} ₫"


def test_a_hold_in_one_browser_appears_in_the_other_within_two_seconds(
    any_site: str, browser: Browser
):
    show = first_showtime(any_site)
    url = f"{any_site}/showtimes/{show['id']}"
    alice = browser.new_context().new_page()
    bob = browser.new_context().new_page()
    sign_up(alice, any_site, "alice")
    sign_up(bob, any_site, "bob")
    alice.goto(url)
    bob.goto(url)
    expect(seat(bob, "E7")).to_have_attribute("data-status", "available")
    expect(bob.locator("#seat-form")).to_have_attribute("data-live", "stream")
    free = int(bob.get_by_test_id("available-count").inner_text())

    seat(alice, "E7").click()
    expect(seat(alice, "E7")).to_have_attribute("data-status", "mine")
    # Bob never reloads: the hold reaches his page by itself.
    expect(seat(bob, "E7")).to_have_attribute("data-status", "held", timeout=2000)
    expect(seat(bob, "E7")).to_have_accessible_description(re.compile(r"\bheld\b"))
    expect(seat(bob, "E7")).to_be_disabled()
    expect(bob.get_by_test_id("available-count")).to_have_text(str(free - 1))
    # Alice's own page still calls the seat hers, though the stream says "held" to everyone.
    expect(seat(alice, "E7")).to_have_accessible_description(re.compile(r"\bmine\b"))

    seat(alice, "E7").click()  # changed her mind
    expect(seat(alice, "E7")).to_have_attribute("data-status", "available")
    expect(seat(bob, "E7")).to_have_attribute("data-status", "available", timeout=2000)
    expect(bob.get_by_test_id("available-count")).to_have_text(str(free))

    # Now Bob can have it.
    seat(bob, "E7").click()
    expect(seat(bob, "E7")).to_have_attribute("data-status", "mine")
    expect(seat(alice, "E7")).to_have_attribute("data-status", "held", timeout=2000)
    assert bob.url == url and alice.url == url


def test_without_the_stream_the_map_polls_and_still_updates_itself(site: str, browser: Browser):
    show = first_showtime(site)
    url = f"{site}/showtimes/{show['id']}"
    alice = browser.new_context().new_page()
    bob = browser.new_context().new_page()
    sign_up(alice, site, "ann")
    sign_up(bob, site, "ben")
    # Bob's network (a proxy, say) does not let the event stream through.
    bob.route("**/seat-events", lambda route: route.abort())
    alice.goto(url)
    bob.goto(url)
    expect(bob.locator("#seat-form")).to_have_attribute("data-live", "poll")

    seat(alice, "F5").click()
    expect(seat(alice, "F5")).to_have_attribute("data-status", "mine")
    expect(seat(bob, "F5")).to_have_attribute("data-status", "held", timeout=4000)
    seat(alice, "F5").click()
    expect(seat(bob, "F5")).to_have_attribute("data-status", "available", timeout=4000)


def test_keyboard_one_tab_stop_arrows_and_space_pick_then_book(site: str, browser: Browser):
    show = first_showtime(site)
    page = browser.new_context().new_page()
    sign_up(page, site, "kim")
    page.goto(f"{site}/showtimes/{show['id']}")
    grid = page.get_by_role("grid", name="Seat map")
    expect(grid.get_by_role("row")).not_to_have_count(0)
    expect(grid.get_by_role("gridcell").first).to_be_visible()
    expect(page.get_by_test_id("scroll-hint")).to_be_hidden()  # the whole hall fits

    # The map is one Tab stop: Tab in lands on a seat, the next Tab leaves the map.
    page.get_by_role("heading", level=1).click()
    page.keyboard.press("Tab")
    expect(seat(page, "A1")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Seats together")).to_be_focused()
    page.keyboard.press("Shift+Tab")
    expect(seat(page, "A1")).to_be_focused()

    # Arrows move seat by seat and row by row; Space picks, Enter picks too.
    page.keyboard.press("ArrowRight")
    expect(seat(page, "A2")).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(seat(page, "B2")).to_be_focused()
    page.keyboard.press("Space")
    expect(seat(page, "B2")).to_have_attribute("data-status", "mine")
    expect(seat(page, "B2")).to_have_accessible_description(re.compile(r"\bmine\b"))
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    expect(seat(page, "B3")).to_have_attribute("data-status", "mine")
    page.keyboard.press("ArrowLeft")
    expect(seat(page, "B2")).to_be_focused()

    price = float(show["price"])
    expect(page.get_by_test_id("selected-seats")).to_have_text("Seats B2, B3")
    expect(page.get_by_test_id("price-lines")).to_contain_text(
        f"2 × Standard at {money(price)} = {money(2 * price)}"
    )
    expect(page.get_by_test_id("total")).to_have_text(money(2 * price))
    expect(page.get_by_test_id("hold-countdown")).to_be_visible()
    expect(page.get_by_test_id("hold-countdown")).to_contain_text(
        re.compile(r"\b(10:00|9:[0-5]\d)\b")
    )

    # Space again frees a seat.
    page.keyboard.press("Space")
    expect(seat(page, "B2")).to_have_attribute("data-status", "available")
    expect(page.get_by_test_id("selected-seats")).to_have_text("Seats B3")
    expect(page.get_by_test_id("total")).to_have_text(money(price))

    page.get_by_test_id("book").click()
    expect(page.locator("[data-testid=booking-status]")).to_have_text("pending")
    expect(page.locator("main")).to_contain_text("B3")


def test_best_seats_for_two_holds_two_seats_side_by_side(site: str, browser: Browser):
    show = first_showtime(site)
    page = browser.new_context().new_page()
    sign_up(page, site, "bea")
    page.goto(f"{site}/showtimes/{show['id']}")
    page.get_by_label("Seats together").fill("2")
    page.get_by_test_id("best-seats").click()

    mine = page.locator('.seatmap input[data-status="mine"]')
    expect(mine).to_have_count(2)
    codes = [mine.nth(i).get_attribute("data-seat") or "" for i in range(2)]
    (row1, n1), (row2, n2) = (re.fullmatch(r"([A-Z]+)(\d+)", c).groups() for c in codes)  # type: ignore[union-attr]
    assert row1 == row2 and int(n2) == int(n1) + 1, codes
    expect(page.get_by_test_id("selected-seats")).to_have_text(f"Seats {codes[0]}, {codes[1]}")
    # Held on the server too: a second look at the page still shows them as this visitor's.
    page.reload()
    for code in codes:
        expect(seat(page, code)).to_have_attribute("data-status", "mine")


def test_single_empty_seat_warning_only_when_a_pick_strands_a_seat(site: str, browser: Browser):
    show = first_showtime(site)
    page = browser.new_context().new_page()
    sign_up(page, site, "sam")
    page.goto(f"{site}/showtimes/{show['id']}")
    warning = page.get_by_test_id("single-seat-warning")
    expect(warning).to_be_hidden()

    # C1, at the start of its block, strands nobody.
    seat(page, "C1").click()
    expect(seat(page, "C1")).to_have_attribute("data-status", "mine")
    expect(warning).to_be_hidden()

    # D2 alone leaves D1 between the row's end and the pick.
    seat(page, "D2").click()
    expect(seat(page, "D2")).to_have_attribute("data-status", "mine")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("D1")

    # Taking D1 as well fills the gap: the warning goes.
    seat(page, "D1").click()
    expect(seat(page, "D1")).to_have_attribute("data-status", "mine")
    expect(warning).to_be_hidden()

    # Letting D1 go again brings it back.
    seat(page, "D1").click()
    expect(seat(page, "D1")).to_have_attribute("data-status", "available")
    expect(warning).to_contain_text("D1")


def test_seat_map_on_a_phone_scrolls_inside_its_box_with_row_letters_in_view(
    site: str, browser: Browser
):
    show = first_showtime(site)
    page = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    sign_up(page, site, "pat")
    page.goto(f"{site}/showtimes/{show['id']}")
    grid = page.get_by_role("grid", name="Seat map")
    expect(grid).to_be_visible()

    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    # The map is wider than the phone: it scrolls inside its own box.
    box = page.locator(".seatmap")
    assert box.evaluate("el => el.scrollWidth > el.clientWidth")
    expect(page.get_by_test_id("scroll-hint")).to_be_visible()  # says there is more

    row_a = grid.get_by_role("rowheader", name="A", exact=True)
    expect(row_a).to_be_visible()
    label = row_a.bounding_box()
    assert label and label["x"] >= 0

    # Scrolled to the far end, the row letters stay at the left edge of the box.
    box.evaluate("el => { el.scrollLeft = el.scrollWidth; }")
    expect(seat(page, "A1")).not_to_be_in_viewport()
    area = box.bounding_box()
    label = row_a.bounding_box()
    assert area and label and area["x"] <= label["x"] < area["x"] + 40

    # Seat A1 comes back into view and can be picked.
    seat(page, "A1").scroll_into_view_if_needed()
    expect(seat(page, "A1")).to_be_in_viewport()
    seat(page, "A1").tap()
    expect(seat(page, "A1")).to_have_attribute("data-status", "mine")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    # The home page's search fits the phone too, its genre menu not cut to "All g".
    page.goto(site + "/")
    expect(page.get_by_label("Genre")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert page.get_by_label("Genre").evaluate("el => el.clientWidth >= 120")


def test_search_by_city_and_date_and_genres_from_the_whole_catalog(site: str, browser: Browser):
    show = first_showtime(site, city="Ho Chi Minh City")
    page = browser.new_context().new_page()
    page.goto(site + "/")
    page.get_by_label("City").select_option("Ho Chi Minh City")
    page.get_by_label("Date").fill(show["show_date"])
    page.get_by_test_id("search").click()
    expect(page).to_have_url(re.compile(r"city=Ho\+Chi\+Minh\+City.*date=" + show["show_date"]))
    expect(page.get_by_test_id("search-scope")).to_contain_text("Ho Chi Minh City")
    expect(page.locator(".movie-card", has_text=show["movie_title"])).to_be_visible()
    # The choices stay as chosen.
    expect(page.get_by_label("City")).to_have_value("Ho Chi Minh City")
    expect(page.get_by_label("Date")).to_have_value(show["show_date"])

    # The movie page lists its showtimes by day (with the weekday), then by theater.
    page.locator(".movie-card", has_text=show["movie_title"]).get_by_role("link").click()
    days = page.locator(".show-day h3")
    expect(days.first).to_have_text(
        re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d{1,2} \w{3} \d{4}$")
    )
    day = page.locator(f'.show-day[data-date="{show["show_date"]}"]')
    theater = day.locator(".show-theater", has_text=show["theater_name"])
    expect(
        theater.get_by_role("link", name=re.compile("^" + show["show_time"][:5]))
    ).to_be_visible()
    assert days.count() == len(set(days.all_inner_texts()))  # each day once
    page.go_back()

    # A day with no shows finds nothing, and says so.
    page.goto(f"{site}/?city=Hanoi&date=2031-01-01")
    expect(page.locator(".movie-card")).to_have_count(0)
    expect(page.locator("main")).to_contain_text("No movies match")

    # Genres come from the whole catalog: Sci-Fi (Dune) is offered while only Animation shows.
    page.goto(site + "/")
    page.get_by_label("Genre").select_option("Animation")
    page.get_by_test_id("search").click()
    expect(page.locator(".movie-card")).not_to_have_count(0)
    expect(page.locator(".movie-card", has_text="Dune")).to_have_count(0)
    expect(page.get_by_label("Genre").locator("option", has_text="Sci-Fi")).to_have_count(1)
    # The whole word "All genres" shows on the select (it was cut to "All g" on a phone).
    assert page.get_by_label("Genre").evaluate("el => el.scrollWidth <= el.clientWidth")

    # A malformed date is a friendly 400 page, never a 500.
    answer = httpx.get(f"{site}/?date=not-a-date")
    assert answer.status_code == 400


def test_without_javascript_the_seat_form_still_books(site: str, browser: Browser):
    show = first_showtime(site)
    page = browser.new_context(java_script_enabled=False).new_page()
    sign_up(page, site, "nojs")
    page.goto(f"{site}/showtimes/{show['id']}")
    seat(page, "H5").check()
    seat(page, "H6").check()
    page.get_by_test_id("book").click()
    expect(page.locator("[data-testid=booking-status]")).to_have_text("pending")
    expect(page.locator("main")).to_contain_text("H5")
