"""The system under fault and the customer who measures its recovery.

`Cinema` is one `boxoffice up --distributed` (tests/e2e/system.py) with its SMTP sink, its
admin, a hall for the probe, and the steady load (tests/faults/load.py, a second process) that
runs against it for the whole session. `Probe` is a customer who buys one seat end to
end — log in, hold, book, pay — trying again until it works, then watches the booking until it
reads `confirmed` (the payment.completed event reached booking) and the notices until the
confirmation is there (booking.confirmed reached notification). Its times, counted from the
fault's moment, are the recovery times the suite reports.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.e2e.system import System, alive
from tests.faults.loadrun import LoadRun
from tests.faults.mailbox import Mailbox

PASSWORD = "Fault-Probe-2468!"
HALL = {"rows": 26, "seats_per_row": 100}
SERVICES = ("auth", "movie", "booking", "payment", "notification")
POLL_SECONDS = 0.1


class Cinema:
    """A running distributed system, its mailbox, and what the probe needs of its catalog."""

    def __init__(self, root: Path, mailbox: Mailbox, env: dict[str, str], clients: int) -> None:
        self.root = root
        self.mailbox = mailbox
        self.env = env
        self.clients = clients
        self.system: System | None = None
        self.load: LoadRun | None = None
        self.restarts = 0
        # Keys of the problems earlier faults left (tests/faults/checks.py).
        self.known_problems: set[str] = set()

    # -- the system ---------------------------------------------------------------------------

    def start(self) -> Cinema:
        self.system = System(
            self.root,
            distributed=True,
            env={
                **self.env,
                "SMTP_URL": self.mailbox.url,
                "BOXOFFICE_ADMIN_EMAIL": ADMIN_EMAIL,
                "BOXOFFICE_ADMIN_PASSWORD": ADMIN_PASSWORD,
            },
            # The five services and NGINX; the web site plays no part in these faults.
            args=["--only", ",".join(SERVICES)],
        )
        try:
            self.system.start(timeout=240)
        except BaseException:
            self.system.cleanup()
            raise
        self.http = httpx.Client(base_url=self.system.base_url, timeout=30, trust_env=False)
        self.admin = self.login(ADMIN_EMAIL, ADMIN_PASSWORD)
        self.movie_id = self.post(
            "/api/movies/movies",
            {"title": f"Faults {uuid.uuid4().hex[:6]}", "duration_minutes": 100, "genre": "Drama"},
        )["id"]
        self.theater_id = self.post(
            "/api/movies/theaters",
            {"name": "Fault Hall", "location": "1 Chaos St", "city": "Hanoi", **HALL},
        )["id"]
        self.seat_ids = [
            s["id"] for s in self.http.get(f"/api/movies/seats/{self.theater_id}").json()
        ]
        self.days = 0
        self.known_problems = set()
        self.load = LoadRun(self.base_url, self.system.data_dir / "load", self.clients)
        self.load.wait_ready()
        return self

    def stop(self) -> None:
        if self.load is not None:
            self.load.stop()
            self.load = None
        if self.system is not None:
            with contextlib.suppress(Exception):
                self.http.close()
            self.system.cleanup()
            self.system = None

    def restart(self) -> None:
        """A fresh system (after a fault left the old one unable to serve)."""
        self.stop()
        self.restarts += 1
        self.start()

    @property
    def base_url(self) -> str:
        assert self.system is not None
        return self.system.base_url

    @property
    def prefix(self) -> str:
        assert self.system is not None
        return self.system.prefix

    def output(self) -> str:
        return self.system.output() if self.system else ""

    def state(self, name: str) -> dict[str, Any]:
        assert self.system is not None
        return dict(self.system.state()["parts"][name])

    def pid(self, name: str) -> int:
        return int(self.state(name)["pid"])

    def workers(self, name: str) -> list[int]:
        """The uvicorn worker processes of a service (children of its process that serve)."""
        master = self.pid(name)
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text().rsplit(") ", 1)[-1].split()
                cmdline = (entry / "cmdline").read_bytes()
                if int(stat[1]) == master and b"spawn_main" in cmdline and alive(int(entry.name)):
                    found.append(int(entry.name))
        return sorted(found)

    def group(self, name: str) -> list[int]:
        """The live processes of a part's process group: its process and its workers."""
        pgid = self.pid(name)
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError, ValueError):
                    stat = (entry / "stat").read_text().rsplit(") ", 1)[-1].split()
                    if int(stat[2]) == pgid and alive(int(entry.name)):
                        found.append(int(entry.name))
        return found

    def wait_running(self, name: str, old_pid: int | None, timeout: float) -> float:
        """Until the supervisor reports the part running (again, under a new pid); seconds."""
        started = time.monotonic()
        deadline = started + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                part = self.state(name)
                if part["status"] == "running" and part["pid"] != old_pid:
                    return time.monotonic() - started
            time.sleep(0.1)
        raise AssertionError(
            f"{name} not running again within {timeout} s:\n{self.output()[-3000:]}"
        )

    # -- the API ------------------------------------------------------------------------------

    def login(self, username: str, password: str) -> str:
        answer = self.http.post(
            "/api/auth/token", data={"username": username, "password": password}
        )
        assert answer.status_code == 200, answer.text
        return str(answer.json()["access_token"])

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = self.http.post(path, json=body, headers={"Authorization": f"Bearer {self.admin}"})
        assert answer.status_code == 201, (path, answer.status_code, answer.text)
        return dict(answer.json())

    def new_showtime(self) -> str:
        """A showtime in the fault hall on a day of its own (none overlaps another)."""
        self.days += 1
        day = dt.date.today() + dt.timedelta(days=30 + self.days)
        return str(
            self.post(
                "/api/movies/showtimes",
                {
                    "movie_id": self.movie_id,
                    "theater_id": self.theater_id,
                    "show_date": day.isoformat(),
                    "show_time": "18:00:00",
                    "price": 90000,
                },
            )["id"]
        )

    def probe(self) -> Probe:
        return Probe(self, self.new_showtime())


@dataclass
class Recovery:
    """When the probe got through after a fault (epoch seconds; None: not within the bound)."""

    since: float
    paid_at: float | None = None
    confirmed_at: float | None = None
    notified_at: float | None = None
    attempts: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    booking_id: str | None = None

    def seconds(self, moment: float | None) -> float | None:
        return None if moment is None else round(moment - self.since, 2)

    def report(self) -> dict[str, Any]:
        return {
            "serves_again_s": self.seconds(self.paid_at),
            "event_delivered_s": self.seconds(self.confirmed_at),
            "notified_s": self.seconds(self.notified_at),
            "probe_attempts": self.attempts,
            "probe_refusals": dict(self.refused.most_common(8)),
        }


class Probe:
    """One customer buying one seat after another of its own showtime."""

    def __init__(self, cinema: Cinema, showtime_id: str) -> None:
        self.cinema = cinema
        self.showtime_id = showtime_id
        self.seats = list(cinema.seat_ids)
        tag = uuid.uuid4().hex[:8]
        self.email = f"probe{tag}@faults.example.com"
        answer = cinema.http.post(
            "/api/auth/register",
            json={"email": self.email, "username": f"probe{tag}", "password": PASSWORD},
        )
        assert answer.status_code == 201, answer.text
        self.http = httpx.Client(base_url=cinema.base_url, timeout=10, trust_env=False)

    def close(self) -> None:
        self.http.close()

    def _call(
        self, recovery: Recovery, what: str, method: str, path: str, **kw: Any
    ) -> tuple[int, Any]:
        """(status, JSON body); a refusal (not 2xx, or no answer: status 0) is counted."""
        try:
            answer = self.http.request(method, path, **kw)
        except httpx.HTTPError as exc:
            recovery.refused[f"{what} {type(exc).__name__}"] += 1
            return 0, None
        if not 200 <= answer.status_code < 300:
            recovery.refused[f"{what} {answer.status_code}"] += 1
        try:
            return answer.status_code, answer.json()
        except ValueError:
            return answer.status_code, None

    def buy(self, since: float, timeout: float, card: str | None = None) -> Recovery:
        """Log in, hold, book and pay until one purchase goes through (or `timeout` passes),
        then wait (within the same bound) for its confirmation and its notice."""
        recovery = Recovery(since=since)
        deadline = time.time() + timeout
        booking: dict[str, Any] | None = None
        key = uuid.uuid4().hex
        seat = self.seats.pop()
        auth: dict[str, str] = {}
        while time.time() < deadline and recovery.paid_at is None:
            recovery.attempts += 1
            if recovery.attempts > 1:
                time.sleep(POLL_SECONDS)
            status, login = self._call(
                recovery,
                "login",
                "POST",
                "/api/auth/token",
                data={"username": self.email, "password": PASSWORD},
            )
            if status != 200:
                continue
            auth = {"Authorization": f"Bearer {login['access_token']}"}
            if booking is None:
                selection = {"showtime_id": self.showtime_id, "seat_ids": [seat]}
                status, _ = self._call(
                    recovery,
                    "hold",
                    "POST",
                    "/api/bookings/seats/hold",
                    json=selection,
                    headers=auth,
                )
                if status == 409:  # ours already (an answer lost to the fault): another seat
                    seat = self.seats.pop()
                if status != 200:
                    continue
                status, booking = self._call(
                    recovery, "book", "POST", "/api/bookings/book", json=selection, headers=auth
                )
                if status != 201:
                    booking = None
                    continue
            status, _ = self._call(
                recovery,
                "pay",
                "POST",
                "/api/payments/process",
                json={
                    "booking_id": booking["id"],
                    "payment_method": "credit_card",
                    "amount": booking["total_price"],
                    **({"payment_token": card} if card else {}),
                },
                headers={**auth, "Idempotency-Key": key},
            )
            if 200 <= status < 300:
                recovery.paid_at = time.time()
                recovery.booking_id = booking["id"]
            elif status in (402, 504):  # this key's payment failed for good: a new key
                key = uuid.uuid4().hex
        if recovery.paid_at is not None:
            self._follow(recovery, auth, deadline)
        return recovery

    def _follow(self, recovery: Recovery, auth: dict[str, str], deadline: float) -> None:
        booking_id = recovery.booking_id
        while time.time() < deadline and None in (recovery.confirmed_at, recovery.notified_at):
            if recovery.confirmed_at is None:
                _, booking = self._call(
                    recovery, "read", "GET", f"/api/bookings/bookings/{booking_id}", headers=auth
                )
                if booking and booking.get("status") == "confirmed":
                    recovery.confirmed_at = time.time()
            if recovery.notified_at is None:
                _, notices = self._call(
                    recovery, "notices", "GET", "/api/notifications/notifications", headers=auth
                )
                if isinstance(notices, list) and any(
                    n["booking_id"] == booking_id and n["type"] == "booking.confirmed"
                    for n in notices
                ):
                    recovery.notified_at = time.time()
            time.sleep(POLL_SECONDS)
