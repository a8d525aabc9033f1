"""The system under test, started and stopped by the harness as a user runs it (`boxoffice up
[--distributed]` in a subprocess) on free ports, with its own data dir, database prefix, Redis
keys and RabbitMQ names, and removed afterwards: no process, database, key or queue is left."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import NoReturn

from bench import resources

# What the run changes from the system's defaults; the JSON lists it.
RUN_ENV = {
    # One machine plays every customer from one address: the per-client limits must not count.
    "RATE_LIMIT_GENERAL": "1000000/minute",
    "RATE_LIMIT_BOOKING": "1000000/minute",
    # Likewise a bench customer books many seats and pays few: the fair-share caps (SPEC 4.10)
    # would refuse the load itself rather than measure it.
    "MAX_UNPAID_SEATS_PER_SHOWTIME": "1000000",
    "MAX_UNPAID_SEATS_IN_ALL": "1000000",
    "LOG_LEVEL": "WARNING",
    "LOG_JSON": "false",
    "BOXOFFICE_DEMO_DATA": "0",
}
# Registration and login happen before the clock starts (the funnel's are reported, not judged);
# at 12 rounds, 200 customers would take a minute of CPU to set up. BCRYPT_ROUNDS in the
# caller's environment wins.
DEFAULT_BCRYPT_ROUNDS = "4"


class StartFailed(RuntimeError):
    """The system did not come up; the message has the tail of its output and where the whole
    output was kept."""


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _ephemeral_ports() -> tuple[int, int]:
    """The range the kernel takes outgoing connections' local ports from."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default


def free_ports(count: int) -> int:
    """The first of `count` consecutive free ports, away from the well-known 800x and below
    the ephemeral range: a port chosen free there could be any outgoing connection's (to
    PostgreSQL, say) by the time it is bound, and some are bound much later (the ping)."""
    low = 20000
    high = _ephemeral_ports()[0] - count
    if high - low < 1000:  # an unusual range: take what is there, as before
        high = 60000 - count
    for _ in range(200):
        first = random.randrange(low, high)
        if all(port_is_free(first + i) for i in range(count)):
            return first
    raise RuntimeError("no block of free ports")


def boxoffice_argv() -> list[str]:
    script = Path(sys.executable).with_name("boxoffice")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from boxoffice.cli import app; app(prog_name='boxoffice')"]


def die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    """SIGTERM from the kernel should the harness itself die (Linux)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def stop_group(process: subprocess.Popen[bytes], sig: int, timeout: float) -> bool:
    """Signal the process (its own session's group), then kill the group if it lingers; whether
    it exited by itself within `timeout`."""
    by_itself = True
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, sig)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            by_itself = False
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)
    return by_itself


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[-1]
    except OSError:
        return False
    return not state.startswith(("Z", "X"))


class System:
    """One system: `start()`, use `base_url`, then `stop()` (idempotent, removes everything)."""

    def __init__(self, *, distributed: bool, workers: int, grace: float = 30) -> None:
        self.distributed = distributed
        self.workers = workers
        self.grace = grace
        self.prefix = f"bench{uuid.uuid4().hex[:8]}_"
        self.data_dir = Path(tempfile.mkdtemp(prefix="boxoffice-bench-"))
        self.log_path = self.data_dir / "output.log"
        self.admin_email = f"bench-admin-{uuid.uuid4().hex[:6]}@example.com"
        self.admin_password = secrets.token_urlsafe(16)
        # The gateway, six services' ports (five and the web site) and the bench's ping app.
        self.port = free_ports(8 if distributed else 2)
        self.ping_port = self.port + (7 if distributed else 1)
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("BOXOFFICE_")},
            "BOXOFFICE_DATA_DIR": str(self.data_dir),
            "POSTGRES_URL": resources.POSTGRES_URL,
            "REDIS_URL": resources.REDIS_URL,
            "RABBITMQ_URL": resources.RABBITMQ_URL,
            "SECRET_KEY": secrets.token_urlsafe(48),
            "BOXOFFICE_ADMIN_EMAIL": self.admin_email,
            "BOXOFFICE_ADMIN_PASSWORD": self.admin_password,
            "BCRYPT_ROUNDS": os.environ.get("BCRYPT_ROUNDS", DEFAULT_BCRYPT_ROUNDS),
            **RUN_ENV,
        }
        if distributed:
            self.env["BOXOFFICE_DB_PREFIX"] = self.prefix
        else:
            # No metrics listener: its one port would collide between runs side by side.
            self.env.setdefault("METRICS_PORT", "0")
        self.process: subprocess.Popen[bytes] | None = None
        self.stopped = False
        self.stop_report: dict[str, object] = {}

    @property
    def mode(self) -> str:
        return "distributed" if self.distributed else "embedded"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def run_dir(self) -> Path:
        return self.data_dir / "run"

    def settings_for_report(self) -> dict[str, object]:
        """What the JSON says about how the system ran."""
        shown = {k: self.env[k] for k in (*RUN_ENV, "BCRYPT_ROUNDS") if k in self.env}
        tuned = ("DB_POOL_SIZE", "DB_MAX_OVERFLOW", "EVENT_RELAY_POLL_SECONDS", "EVENT_PREFETCH")
        shown |= {k: self.env[k] for k in tuned if k in self.env}
        return {
            "started_by_harness": True,
            "workers": self.workers if self.distributed else 1,
            "db_prefix": self.prefix if self.distributed else None,
            "environment": shown,
        }

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def argv(self) -> list[str]:
        argv = [*boxoffice_argv(), "up", "--port", str(self.port), "--no-demo-data"]
        if self.distributed:
            argv += [
                "--distributed",
                "--base-port",
                str(self.port + 1),
                "--workers",
                str(self.workers),
                "--grace",
                str(self.grace),
                "--bench-ping-port",
                str(self.ping_port),
            ]
        return argv

    def start(self, timeout: float = 180, attempts: int = 3) -> None:
        """Start it; return once every service answers through the public port. Ports are
        chosen free but can be taken before the system binds them: then again, on others."""
        for attempt in range(1, attempts + 1):
            try:
                self._start_once(timeout)
                return
            except StartFailed:
                if attempt == attempts or "is in use" not in self.output():
                    raise
                self.port = free_ports(8 if self.distributed else 2)
                self.ping_port = self.port + (7 if self.distributed else 1)

    def _start_once(self, timeout: float) -> None:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self.argv(),
                cwd=self.data_dir,  # no stray .env from the caller's folder
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        deadline = time.monotonic() + timeout
        paths = [
            f"/api/{p}/health" for p in ("auth", "movies", "bookings", "payments", "notifications")
        ]
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._start_failed("exited early")
            if all(self._answers(path) for path in paths):
                return
            time.sleep(0.3)
        self._start_failed(f"did not come up in {timeout:.0f} s")

    def _start_failed(self, what: str) -> NoReturn:
        # The data dir goes with the system: keep its whole output where it can be read.
        fd, kept = tempfile.mkstemp(prefix="boxoffice-bench-failed-", suffix=".log")
        os.close(fd)
        shutil.copy(self.log_path, kept)
        raise StartFailed(
            f"boxoffice up {what} (its whole output: {kept}); the end of it:\n"
            f"{self.output()[-2500:]}"
        )

    def _answers(self, path: str) -> bool:
        try:
            with urllib.request.urlopen(self.base_url + path, timeout=5) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def part_pids(self) -> dict[str, int]:
        """The pid of each part (distributed: from the supervisor's state.json)."""
        if self.process is None:
            return {}
        if not self.distributed:
            return {"boxoffice": self.process.pid}
        state = json.loads((self.run_dir / "state.json").read_text())
        pids = {name: part["pid"] for name, part in state["parts"].items() if part.get("pid")}
        return {"supervisor": state["supervisor_pid"], **pids}

    def bookings_database(self) -> tuple[str, str]:
        """("postgres", dsn) or ("sqlite", path) of the booking service's database."""
        if self.distributed:
            return "postgres", resources.Postgres.from_url().dsn(f"{self.prefix}bookings_db")
        return "sqlite", str(self.data_dir / "bookings_db.sqlite3")

    def leftover_pids(self) -> list[int]:
        """Processes of this system still alive (they name its data dir in their command line
        or environment)."""
        marker = str(self.data_dir).encode()
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            with contextlib.suppress(OSError):
                if alive(int(entry.name)) and (
                    marker in (entry / "cmdline").read_bytes()
                    or marker in (entry / "environ").read_bytes()
                ):
                    found.append(int(entry.name))
        return found

    def stop(self) -> list[str]:
        """Stop it (SIGTERM, then SIGKILL after the grace period), remove its databases, keys,
        queues and data dir; what went wrong (how it stopped is in `stop_report`)."""
        if self.stopped:
            return []
        self.stopped = True
        if self.process is not None:
            started = time.monotonic()
            # Distributed: the supervisor gives its parts the grace period, then needs a moment.
            grace = self.grace + (5 if self.distributed else 0)
            by_itself = stop_group(self.process, signal.SIGTERM, timeout=grace)
            self.stop_report = {
                "seconds": round(time.monotonic() - started, 2),
                "exited_after_sigterm": by_itself,
                "grace_s": grace,
            }
        for pid in self.leftover_pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        problems = []
        if self.distributed:
            problems = asyncio.run(resources.remove_everything(self.prefix))
        shutil.rmtree(self.data_dir, ignore_errors=True)
        return problems
