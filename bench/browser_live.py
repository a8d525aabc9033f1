"""How long a seat held in one browser takes to show in another, on the real seat map page.

    .venv/bin/python -m bench.browser_live http://127.0.0.1:8080 [--samples 12]

Two headless Chromium pages (Debian's /usr/bin/chromium, driven by Playwright) open the first
showtime's seat map as two new customers; one holds and frees seat A1 again and again; for each
hold it times, from the click, when its own page shows the seat as "mine" and when the other
page shows it "held". Prints one JSON line. Works against either run mode (`boxoffice up`, with
or without `--distributed`); the site's rate limits apply, so keep the samples modest.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid

import httpx
from playwright.sync_api import Page, expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"


def sign_up(page: Page, base: str) -> None:
    tag = uuid.uuid4().hex[:10]
    page.goto(f"{base}/register")
    page.fill("input[name=email]", f"live-{tag}@example.com")
    page.fill("input[name=username]", f"live{tag}")
    page.fill("input[name=password]", "secret123")
    page.click("[data-testid=register]")
    expect(page.locator("[data-testid=logout]")).to_be_visible()


def measure(base: str, samples: int) -> dict[str, object]:
    show = httpx.get(f"{base}/api/movies/showtimes", params={"limit": 1}).json()[0]
    url = f"{base}/showtimes/{show['id']}"
    own_ms: list[float] = []
    other_ms: list[float] = []
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        holder, watcher = (chromium.new_context().new_page() for _ in range(2))
        for page in (holder, watcher):
            sign_up(page, base)
            page.goto(url)
        live = watcher.locator("#seat-form").get_attribute("data-live")
        mine = holder.get_by_role("checkbox", name="Seat A1", exact=True)
        theirs = watcher.get_by_role("checkbox", name="Seat A1", exact=True)
        for _ in range(samples):
            start = time.perf_counter()
            mine.click()
            expect(mine).to_have_attribute("data-status", "mine")
            own_ms.append((time.perf_counter() - start) * 1000)
            expect(theirs).to_have_attribute("data-status", "held", timeout=5000)
            other_ms.append((time.perf_counter() - start) * 1000)
            mine.click()
            expect(theirs).to_have_attribute("data-status", "available", timeout=5000)
        chromium.close()
    return {
        "scenario": "browser-live",
        "base_url": base,
        "watcher_updates_by": live,
        "samples": samples,
        "own_page_ms_p50": round(statistics.median(own_ms)),
        "other_browser_ms_p50": round(statistics.median(other_ms)),
        "other_browser_ms_max": round(max(other_ms)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url")
    parser.add_argument("--samples", type=int, default=12)
    args = parser.parse_args()
    print(json.dumps(measure(args.base_url.rstrip("/"), args.samples)))


if __name__ == "__main__":
    main()
