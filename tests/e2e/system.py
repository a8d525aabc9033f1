"""Run a whole boxoffice system as a user does (`boxoffice up [--distributed]` in a subprocess),
on free ports, with its own data dir, database prefix, Redis keys and RabbitMQ names, and leave
nothing behind: no process (even when a test fails), no database, no key, no queue."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.system import free_ports  # one way to choose ports, for the bench and the tests
from tests.conftest import (
    POSTGRES_URL,
    RABBITMQ_URL,
    REDIS_URL,
    TEST_SECRET,
    delete_redis_prefix,
    drop_databases_with_prefix,
)

BOXOFFICE = str(Path(sys.executable).with_name("boxoffice"))
SMOKE = Path(
    os.environ.get("BOXOFFICE_SMOKE")
    or Path(__file__).parents[2].parent / "shared/contract/smoke.py"
)
SERVICES = ("auth", "movie", "booking", "payment", "notification")


def client(base_url: str, source: str | None = None) -> httpx.Client:
    """An HTTP client for the system; `source` picks the loopback address it comes from (each
    address is another client to the rate limits)."""
    transport = httpx.HTTPTransport(local_address=source) if source else None
    return httpx.Client(base_url=base_url, timeout=30, trust_env=False, transport=transport)


def _terminate_with_parent() -> None:
    ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def alive(pid: int) -> bool:
    """Whether a process runs (a zombie, dead but not yet reaped, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[-1]
    except OSError:
        return False
    return not state.startswith(("Z", "X"))


class System:
    """One running system: `start()`, use `base_url`, then `cleanup()` (idempotent)."""

    def __init__(
        self, root: Path, *, distributed: bool, env: dict[str, str] | None = None, args=()
    ) -> None:
        self.distributed = distributed
        self.data_dir = root / f"system-{uuid.uuid4().hex[:8]}"
        self.data_dir.mkdir(parents=True)
        self.prefix = f"e2e{uuid.uuid4().hex[:8]}_"
        self.log_path = self.data_dir / "output.log"
        self.port = free_ports(1) if not distributed else free_ports(7)
        self.args = list(args)
        if distributed:
            # The gateway on the first port, the services on the six after it.
            self.args += ["--distributed", "--base-port", str(self.port + 1)]
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("BOXOFFICE_")},
            "BOXOFFICE_DATA_DIR": str(self.data_dir),
            "POSTGRES_URL": POSTGRES_URL,
            "REDIS_URL": REDIS_URL,
            "RABBITMQ_URL": RABBITMQ_URL,
            "SECRET_KEY": TEST_SECRET,
            "BCRYPT_ROUNDS": "4",
            "LOG_JSON": "false",
            "LOG_LEVEL": "WARNING",
            # Embedded mode's metrics listener has one fixed port by default: off, unless a
            # test gives it a free one (systems run side by side).
            "METRICS_PORT": "0",
            **(env or {}),
        }
        if distributed:
            # Its own databases, Redis keys and RabbitMQ names on the shared servers.
            self.env["BOXOFFICE_DB_PREFIX"] = self.prefix
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def run_dir(self) -> Path:
        return self.data_dir / "run"

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def _spawn(self) -> subprocess.Popen[bytes]:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [BOXOFFICE, "up", "--port", str(self.port), *self.args],
                cwd=self.data_dir,  # no stray .env from the checkout
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                # Should pytest itself be killed, the system goes too (as its children go
                # with the supervisor).
                preexec_fn=_terminate_with_parent,
            )
        return self.process

    def start(self, timeout: float = 150) -> System:
        """Start it and wait until its table is printed and the API answers."""
        self._spawn()
        deadline = time.monotonic() + timeout
        with client(self.base_url) as http:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"boxoffice up exited early:\n{self.output()[-4000:]}")
                if "boxoffice is running" in self.output():
                    with contextlib.suppress(httpx.HTTPError):
                        if http.get("/api/auth/health").status_code == 200:
                            return self
                time.sleep(0.25)
        raise RuntimeError(f"boxoffice up did not come up in {timeout} s:\n{self.output()[-4000:]}")

    def run_until_exit(self, timeout: float = 120) -> int:
        """Run `boxoffice up` expecting it to stop by itself (a start failure); the exit code."""
        process = self._spawn()
        return process.wait(timeout=timeout)

    def state(self) -> dict[str, Any]:
        """The supervisor's state.json (distributed mode)."""
        import json

        return json.loads((self.run_dir / "state.json").read_text())

    def wait_for(self, predicate, timeout: float = 60, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                if predicate():
                    return
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}:\n{self.output()[-3000:]}")

    def terminate(self, timeout: float = 40) -> int:
        """SIGTERM, as an operator or a container runtime stops it; the exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def leftover_pids(self) -> list[int]:
        """Processes of this system still alive: those naming its data dir in their command
        line (NGINX) or environment (every `boxoffice` process)."""
        marker = str(self.data_dir).encode()
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            with contextlib.suppress(OSError):
                if not alive(int(entry.name)):
                    continue
                if (
                    marker in (entry / "cmdline").read_bytes()
                    or marker in (entry / "environ").read_bytes()
                ):
                    found.append(int(entry.name))
        return found

    def cleanup(self) -> None:
        """Stop it (politely, then not), then drop its databases, keys and queues."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.terminate(timeout=30)
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        for pid in self.leftover_pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self.distributed:
            asyncio.run(_drop_everything(self.prefix))


async def _drop_everything(prefix: str) -> None:
    await drop_databases_with_prefix(prefix)
    await delete_redis_prefix(prefix)
    await _delete_rabbit_names(prefix)


async def _delete_rabbit_names(prefix: str) -> None:
    import aio_pika

    from boxoffice.core.events.rabbitmq import RabbitBus

    bus = RabbitBus(RABBITMQ_URL, prefix=prefix)
    connection = await aio_pika.connect(RABBITMQ_URL, timeout=10)
    async with connection:
        for service in SERVICES:
            for queue in (bus.queue_name(service), bus.dlq_name(service)):
                channel = await connection.channel()
                with contextlib.suppress(Exception):
                    await channel.queue_delete(queue)
            channel = await connection.channel()
            with contextlib.suppress(Exception):
                await channel.exchange_delete(bus.dlx_name(service))
        channel = await connection.channel()
        with contextlib.suppress(Exception):
            await channel.exchange_delete(bus.exchange_name)


@contextlib.contextmanager
def running(root: Path, **kw: Any) -> Iterator[System]:
    """A started system, cleaned up however the block ends."""
    system = System(root, **kw)
    try:
        yield system.start()
    finally:
        system.cleanup()


def run_smoke(base_url: str, admin_email: str, admin_password: str) -> subprocess.CompletedProcess:
    """The shared contract smoke test against a running system.

    It lives beside the checkout (`../shared/contract/smoke.py`), not in it: a clone made
    anywhere else has no such file, and its own tests must still pass there, so the test is
    skipped, saying why (BOXOFFICE_SMOKE names the script when it is elsewhere)."""
    if not SMOKE.is_file():
        pytest.skip(
            f"the shared contract smoke test is not here ({SMOKE}): run from a checkout "
            "beside ../shared, or set BOXOFFICE_SMOKE to the script's path"
        )
    return subprocess.run(
        [sys.executable, str(SMOKE), base_url, admin_email, admin_password],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "no_proxy": "*", "NO_PROXY": "*"},
    )
