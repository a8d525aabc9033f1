"""A real system on a real port, and headless Chromium (Debian's, driven by Playwright)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, sync_playwright

from boxoffice.core.runtime import memory_runtime
from boxoffice.embedded import create_embedded_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def site(make_settings) -> Iterator[str]:
    yield from _embedded_site(make_settings)


@pytest.fixture(params=["embedded"])
def any_site(request, make_settings) -> Iterator[str]:
    """The system in each run mode (the issue's stories must pass in both): its base URL, with
    the demo catalog and the admin ADMIN_EMAIL / ADMIN_PASSWORD of tests.conftest."""
    yield from _embedded_site(make_settings)


def _embedded_site(make_settings) -> Iterator[str]:
    """The embedded system as `boxoffice up` serves it (site, API, gateway behaviour), with the
    demo catalog, on a free port; yields its base URL."""
    settings = make_settings(
        "sqlite",
        BOXOFFICE_DEMO_DATA=True,
        rate_limit_general="600/minute",
        rate_limit_booking="100/minute",
    )
    app = create_embedded_app(settings, memory_runtime(settings), gateway=True)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/api/movies", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    else:
        raise RuntimeError("the system did not start")
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=30)


# What Chromium prints to the console when the site breaks its own headers (issue 11): a
# blocked script, style or image, or a Permissions-Policy feature it does not know.
HEADER_COMPLAINTS = ("Content Security Policy", "Permissions-Policy")


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Chromium; a test fails if any page it opened reported a policy violation."""
    complaints: list[str] = []

    def note(message: ConsoleMessage) -> None:
        if any(word in message.text for word in HEADER_COMPLAINTS):
            complaints.append(f"{message.type}: {message.text}")

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        new_context = chromium.new_context

        def watched_context(*args: Any, **kwargs: Any) -> BrowserContext:
            context = new_context(*args, **kwargs)
            context.on("console", note)
            return context

        chromium.new_context = watched_context  # type: ignore[method-assign]
        try:
            yield chromium
        finally:
            chromium.close()
    assert not complaints, complaints
