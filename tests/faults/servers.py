"""The machine's real PostgreSQL, Redis and RabbitMQ servers, stopped and started again the way
they run here, and always verified up again (`ensure_up`) before a fault test ends.

How each is started again is found out from the running server, not assumed:
- Redis: the options it reports (`CONFIG GET`, or its config file from `INFO server`), started
  again daemonized as the user it ran as (here: `redis-server --daemonize yes ...`, as
  scripts/test starts it);
- RabbitMQ: `rabbitmqctl stop_app`/`start_app` for the application, and for the node itself
  `rabbitmq-server -detached` (how scripts/test starts it), waited for until it speaks AMQP;
- PostgreSQL: the cluster `pg_lsclusters` lists on the port the tests use, with
  `pg_ctlcluster --skip-systemctl-redirect VERSION NAME stop|start` (no systemd in these
  containers; with systemd, pg_ctlcluster would hand over to it).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from tests.conftest import POSTGRES_URL, RABBITMQ_URL, REDIS_URL

COMMAND_TIMEOUT = 120.0


class ServerError(RuntimeError):
    """A server could not be stopped, started or reached in time; the message says which."""


def run(argv: list[str], timeout: float = COMMAND_TIMEOUT, check: bool = True) -> str:
    """Run a command; its output (stdout and stderr). ServerError when it fails and `check`."""
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        if check:
            raise ServerError(f"{' '.join(argv)}: {exc}") from exc
        return str(exc)
    output = (done.stdout + done.stderr).strip()
    if check and done.returncode != 0:
        raise ServerError(f"{' '.join(argv)} exited with {done.returncode}: {output[-2000:]}")
    return output


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
        return True
    return False


def wait_until(predicate, timeout: float, what: str, interval: float = 0.2) -> float:
    """Poll until true; the seconds it took. ServerError after `timeout`."""
    started = time.monotonic()
    while True:
        with contextlib.suppress(Exception):
            if predicate():
                return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise ServerError(f"{what}: not within {timeout:.0f} s")
        time.sleep(interval)


def pids_of(match, user: str | None = None) -> list[int]:
    """Processes whose argv (a list) satisfies `match`, optionally of one user."""
    uid = pwd.getpwnam(user).pw_uid if user else None
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            if uid is not None and entry.stat().st_uid != uid:
                continue
            if match([a.decode(errors="replace") for a in argv if a]):
                found.append(int(entry.name))
    return found


def as_user(user: str | None, argv: list[str]) -> list[str]:
    """argv run as `user` when that is not who we are (we are root in CI)."""
    if not user or pwd.getpwuid(os.getuid()).pw_name == user:
        return argv
    return ["runuser", "-u", user, "--", *argv]


@dataclass
class Redis:
    """The Redis server of REDIS_URL."""

    url: str = REDIS_URL
    start_argv: list[str] = field(default_factory=list)
    user: str | None = None

    name = "Redis"

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or 6379

    def cli(self, *args: str, timeout: float = 10, check: bool = True) -> str:
        return run(
            ["redis-cli", "-h", self.host, "-p", str(self.port), *args],
            timeout=timeout,
            check=check,
        )

    def up(self) -> bool:
        return self.cli("ping", timeout=3, check=False) == "PONG"

    def learn(self) -> None:
        """How to start it again: its config file, else the options it runs with now."""
        info = dict(
            line.split(":", 1) for line in self.cli("info", "server").splitlines() if ":" in line
        )
        pid = int(info["process_id"])
        self.user = pwd.getpwuid(Path(f"/proc/{pid}").stat().st_uid).pw_name
        config_file = info.get("config_file", "").strip()
        if config_file:
            self.start_argv = ["redis-server", config_file, "--daemonize", "yes"]
            return
        options = []
        for name in ("bind", "port", "save", "appendonly", "dir", "logfile", "dbfilename"):
            lines = self.cli("config", "get", name).splitlines()
            value = lines[1] if len(lines) > 1 else ""
            options += [f"--{name}", *(value.split() if name == "bind" else [value])]
        self.start_argv = ["redis-server", "--daemonize", "yes", *options]

    def stop(self) -> None:
        """`redis-cli shutdown nosave`: every key is gone, as after a crash without a dump."""
        self.learn()
        self.cli("shutdown", "nosave", check=False)
        wait_until(lambda: not port_open(self.host, self.port), 30, "Redis to stop")

    def start(self, timeout: float = 60) -> None:
        if not self.start_argv:
            self.learn()
        run(as_user(self.user, self.start_argv))
        wait_until(self.up, timeout, "Redis to answer PING")

    def ensure_up(self, timeout: float = 60) -> None:
        if not self.up():
            self.start(timeout)


@dataclass
class RabbitMQ:
    """The RabbitMQ node of RABBITMQ_URL (one node on this machine)."""

    url: str = RABBITMQ_URL

    name = "RabbitMQ"

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or 5672

    def up(self) -> bool:
        """Whether it accepts an AMQP connection (the port alone opens before it serves)."""
        try:
            with socket.create_connection((self.host, self.port), timeout=3) as sock:
                sock.settimeout(3)
                sock.sendall(b"AMQP\x00\x00\x09\x01")
                # connection.start: a method frame (type 1) on channel 0.
                return sock.recv(1) == b"\x01"
        except OSError:
            return False

    def beam_pids(self) -> list[int]:
        return pids_of(
            lambda argv: (
                bool(argv) and argv[0].endswith(("beam.smp", "beam")) and "rabbit" in " ".join(argv)
            )
        )

    def stop_app(self) -> None:
        run(["rabbitmqctl", "stop_app"])
        wait_until(lambda: not self.up(), 30, "RabbitMQ to stop serving")

    def start_app(self, timeout: float = 90) -> None:
        run(["rabbitmqctl", "start_app"], timeout=timeout)
        wait_until(self.up, timeout, "RabbitMQ to accept AMQP connections")

    def kill(self) -> None:
        """SIGKILL of the Erlang VM: the node dies as in a crash (its data stays on disk)."""
        pids = self.beam_pids()
        if not pids:
            raise ServerError("no RabbitMQ beam process found")
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not self.beam_pids(), 30, "RabbitMQ's beam to die")

    def start_node(self, timeout: float = 120) -> None:
        # -detached returns at once; the node registers with epmd and boots in the background.
        run(["rabbitmq-server", "-detached"], timeout=30)
        wait_until(self.up, timeout, "RabbitMQ to accept AMQP connections")

    def ensure_up(self, timeout: float = 120) -> None:
        if self.up():
            return
        if self.beam_pids():
            # The node runs; its application was stopped (or is still starting).
            run(["rabbitmqctl", "start_app"], timeout=timeout, check=False)
            with contextlib.suppress(ServerError):
                wait_until(self.up, timeout, "RabbitMQ to accept AMQP connections")
                return
        if not self.beam_pids():
            self.start_node(timeout)
        wait_until(self.up, timeout, "RabbitMQ to accept AMQP connections")


@dataclass
class PostgreSQL:
    """The PostgreSQL cluster serving POSTGRES_URL's port."""

    url: str = POSTGRES_URL
    version: str = ""
    cluster: str = ""

    name = "PostgreSQL"

    @property
    def host(self) -> str:
        return urlsplit(self.url.replace("+asyncpg", "")).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        return urlsplit(self.url.replace("+asyncpg", "")).port or 5432

    def learn(self) -> None:
        for line in run(["pg_lsclusters", "--no-header"]).splitlines():
            columns = line.split()
            if len(columns) >= 3 and columns[2] == str(self.port):
                self.version, self.cluster = columns[0], columns[1]
                return
        raise ServerError(f"no PostgreSQL cluster on port {self.port} (pg_lsclusters)")

    def ctl(self, action: str, *extra: str, timeout: float = COMMAND_TIMEOUT) -> str:
        if not self.cluster:
            self.learn()
        return run(
            [
                "pg_ctlcluster",
                "--skip-systemctl-redirect",
                self.version,
                self.cluster,
                action,
                *extra,
            ],
            timeout=timeout,
        )

    def up(self) -> bool:
        done = subprocess.run(
            ["pg_isready", "-q", "-h", self.host, "-p", str(self.port), "-t", "2"],
            timeout=10,
            check=False,
        )
        return done.returncode == 0

    def stop(self) -> None:
        """A fast shutdown: every session is disconnected, open transactions roll back."""
        self.ctl("stop", "-m", "fast")
        wait_until(lambda: not self.up(), 30, "PostgreSQL to stop")

    def start(self, timeout: float = 90) -> None:
        self.ctl("start", timeout=timeout)
        wait_until(self.up, timeout, "PostgreSQL to accept connections")

    def ensure_up(self, timeout: float = 90) -> None:
        if not self.up():
            self.start(timeout)


def all_servers() -> tuple[PostgreSQL, Redis, RabbitMQ]:
    return PostgreSQL(), Redis(), RabbitMQ()


def ensure_all_up() -> None:
    """Every server up again (started the way it runs here if it is not); raises if one stays
    down."""
    problems = []
    for server in all_servers():
        try:
            server.ensure_up()
        except ServerError as exc:
            problems.append(f"{server.name}: {exc}")
    if problems:
        raise ServerError("servers left down: " + "; ".join(problems))
