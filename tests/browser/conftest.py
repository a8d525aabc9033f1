"""A real system on a real port, and headless Chromium (Debian's, driven by Playwright).

`any_site` is the system in each run mode: embedded (a fresh one per test, in this process) and
distributed (`boxoffice up --distributed` through NGINX, started once for the whole session and
only when a test asks for it; `pytest -m "not distributed"` leaves it out)."""

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
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.e2e.system import System

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


# The rate limits of the shared test systems: a whole session of stories comes from one
# address (127.0.0.1), so the general limit is 10x the default; the booking one keeps 100.
SITE_RATE_LIMITS = {"general": "600/minute", "booking": "100/minute"}


@pytest.fixture(params=["embedded", pytest.param("distributed", marks=pytest.mark.distributed)])
def any_site(request, make_settings) -> Iterator[str]:
    """The system in each run mode (the issue's stories must pass in both): its base URL, with
    the demo catalog and the admin ADMIN_EMAIL / ADMIN_PASSWORD of tests.conftest."""
    if request.param == "distributed":
        yield request.getfixturevalue("distributed_site")
    else:
        yield from _embedded_site(make_settings)


@pytest.fixture(scope="session")
def distributed_system(tmp_path_factory) -> Iterator[System]:
    """`boxoffice up --distributed` (five services, the site, NGINX in front) with the demo
    catalog, started once for the session at the first test that needs it; stopped and its
    databases, Redis keys and RabbitMQ names removed at the end."""
    system = System(
        tmp_path_factory.mktemp("distributed-site"),
        distributed=True,
        env={
            "BOXOFFICE_DEMO_DATA": "true",
            "BOXOFFICE_ADMIN_EMAIL": ADMIN_EMAIL,
            "BOXOFFICE_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "RATE_LIMIT_GENERAL": SITE_RATE_LIMITS["general"],
            "RATE_LIMIT_BOOKING": SITE_RATE_LIMITS["booking"],
        },
    )
    try:
        yield system.start()
    finally:
        system.cleanup()


@pytest.fixture(scope="session")
def distributed_site(distributed_system: System) -> str:
    """The distributed system's base URL (NGINX)."""
    return distributed_system.base_url


def _embedded_site(make_settings) -> Iterator[str]:
    """The embedded system as `boxoffice up` serves it (site, API, gateway behaviour), with the
    demo catalog, on a free port; yields its base URL."""
    yield from serve_embedded(
        make_settings(
            "sqlite",
            BOXOFFICE_DEMO_DATA=True,
            rate_limit_general=SITE_RATE_LIMITS["general"],
            rate_limit_booking=SITE_RATE_LIMITS["booking"],
        )
    )


def serve_embedded(settings) -> Iterator[str]:
    """The embedded system for `settings` under uvicorn on a free port; yields its base URL."""
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
