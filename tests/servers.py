"""The machine's real servers, taken down and brought back by tests.

Fault tests stop and start the PostgreSQL, Redis and RabbitMQ that every other test also uses,
so they hold one machine-wide lock while they do (two fault tests never overlap, even from two
test runs), and always bring the server back, in a `finally`, before they let go of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator

import pytest

LOCK_PATH = "/tmp/boxoffice-faults.lock"


@contextlib.contextmanager
def fault_lock() -> Iterator[None]:
    """Only one test at a time, on this machine, may take its servers down."""
    with open(LOCK_PATH, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _run(*command: str, timeout: float = 60) -> None:
    subprocess.run(command, check=True, capture_output=True, timeout=timeout)


def _port_open(port: int) -> bool:
    import socket

    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


async def wait_port(port: int, *, up: bool = True, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while _port_open(port) != up:
        if time.monotonic() > deadline:
            raise AssertionError(f"127.0.0.1:{port} not {'up' if up else 'down'} in {timeout}s")
        await asyncio.sleep(0.1)


def need(command: str) -> None:
    if shutil.which(command) is None:
        pytest.skip(f"{command} is not installed here: cannot restart the real server")


@contextlib.asynccontextmanager
async def rabbitmq_down() -> AsyncIterator[None]:
    """RabbitMQ's application stopped (`rabbitmqctl stop_app`) for the body, then started again;
    returns once the broker accepts connections again."""
    need("rabbitmqctl")
    with fault_lock():
        try:
            await asyncio.to_thread(_run, "rabbitmqctl", "stop_app")
            await wait_port(5672, up=False, timeout=30)
            yield
        finally:
            await asyncio.to_thread(_run, "rabbitmqctl", "start_app", timeout=120)
            await asyncio.to_thread(_run, "rabbitmqctl", "await_startup", timeout=120)
            await asyncio.to_thread(_restore_dead_letter_supervisor)
            await wait_port(5672)


def _restore_dead_letter_supervisor() -> None:
    """RabbitMQ 3.10 may come back from `stop_app`/`start_app` without the supervisor of its
    quorum queues' dead-letter workers (`rabbit_fifo_dlx_sup`, a boot step): every later
    declare or consume of a quorum queue then fails with INTERNAL_ERROR, for every test run on
    the machine. Start it again if it is missing (what a full boot does)."""
    check = subprocess.run(
        ("rabbitmqctl", "eval", "whereis(rabbit_fifo_dlx_sup)."),
        capture_output=True,
        text=True,
        timeout=60,
    )
    if check.stdout.strip() == "undefined":
        _run(
            "rabbitmqctl",
            "eval",
            "supervisor:restart_child(rabbit_sup, rabbit_fifo_dlx_sup).",
        )


class TcpProxy:
    """A TCP proxy in front of a real server, whose open connections a test can sever at once
    (a network cut mid-stream: the server lives on, the client's sockets die)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.StreamWriter] = set()

    async def start(self) -> int:
        """Listen (on a free port the first time, on the same one again after `stop`)."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        """Cut every connection and refuse new ones (the server "is down") until `start`."""
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> TcpProxy:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    @property
    def open_connections(self) -> int:
        return len(self._pipes) // 2

    def cut(self) -> None:
        for writer in list(self._pipes):
            writer.transport.abort()
        self._pipes.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._pipes.update((writer, up_writer))
        await asyncio.gather(
            self._pump(reader, up_writer), self._pump(up_reader, writer), return_exceptions=True
        )
        for w in (writer, up_writer):
            self._pipes.discard(w)
            w.transport.abort()

    @staticmethod
    async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.transport.abort()
