"""The supervisor of `boxoffice up --distributed`: starts each part (a service's uvicorn process,
the web site, NGINX) as a child process, waits for it to answer, restarts a child that dies (with
exponential backoff, logged) and stops every child on Ctrl-C or SIGTERM (SIGTERM, then SIGKILL
after a grace period).

Children run in process groups of their own, so a Ctrl-C in the terminal reaches the supervisor
only and the shutdown stays orderly; each also gets SIGTERM from the kernel if the supervisor
itself dies (PR_SET_PDEATHSIG), so no child outlives it. The supervisor keeps
`<run dir>/state.json` (pids, ports, restarts) current for operators and tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from boxoffice.core.waits import wait_set

# A child that stayed up this long had recovered: its next crash starts the backoff over.
STABLE_AFTER_SECONDS = 30.0
FIRST_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 30.0
TAIL_LINES = 25


class StartFailure(Exception):
    """A part of the system could not be started; the message says which and why."""


@dataclass
class Part:
    """One child process of the system."""

    name: str
    argv: list[str]
    port: int
    health_url: str
    env: dict[str, str] | None = None
    # NGINX stops gracefully on SIGQUIT; uvicorn on SIGTERM.
    stop_signal: int = signal.SIGTERM
    # Parts start stage by stage, the parts of one stage together (services, then the gateway).
    stage: int = 0
    process: asyncio.subprocess.Process | None = None
    restarts: int = 0
    status: str = "stopped"
    started_at: float = 0.0
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES))
    reader: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    def last_lines(self) -> str:
        lines = [line for line in self.tail if line.strip()]
        return "\n".join(f"    {line}" for line in lines[-12:]) or "    (no output)"


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with code {returncode}"


def _prepare_child() -> None:  # pragma: no cover - runs in the forked child
    """A process group of its own; SIGTERM from the kernel when the supervisor dies (Linux)."""
    os.setpgid(0, 0)
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Supervisor:
    """Runs `parts` (stage by stage, each stage waited for) until told to stop."""

    def __init__(
        self,
        parts: Sequence[Part],
        run_dir: Path,
        *,
        grace_seconds: float = 10.0,
        start_timeout: float = 90.0,
        on_ready: Callable[[Supervisor], None] | None = None,
        out: IO[str] | None = None,
    ) -> None:
        self.parts = list(parts)
        self.run_dir = run_dir
        self.grace_seconds = grace_seconds
        self.start_timeout = start_timeout
        self.on_ready = on_ready
        self.out = out or sys.stdout
        self.stopping = asyncio.Event()
        self._kill_now = asyncio.Event()
        self._width = max(len(p.name) for p in self.parts) if self.parts else 8

    # -- output -----------------------------------------------------------------------------

    def say(self, message: str) -> None:
        self._line("supervisor", message)

    def _line(self, who: str, text: str) -> None:
        self.out.write(f"{who:<{max(self._width, 10)}} | {text}\n")
        self.out.flush()

    def write_state(self) -> None:
        state = {
            "supervisor_pid": os.getpid(),
            "stopping": self.stopping.is_set(),
            "parts": {
                p.name: {"pid": p.pid, "port": p.port, "status": p.status, "restarts": p.restarts}
                for p in self.parts
            },
        }
        path = self.run_dir / "state.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(path)

    # -- the run ------------------------------------------------------------------------------

    async def run(self) -> int:
        """Start everything, watch it until SIGTERM/SIGINT, stop everything; the exit code."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._on_signal, signum)
        try:
            try:
                await self._start_all()
            except StartFailure as exc:
                self.say(f"cannot start: {exc}")
                return 1
            if self.stopping.is_set():
                return 0
            self.write_state()
            if self.on_ready:
                self.on_ready(self)
            watchers = [asyncio.create_task(self._watch(part)) for part in self.parts]
            await self.stopping.wait()
            for task in watchers:
                task.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)
            return 0
        finally:
            await self._stop_all()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)

    def _on_signal(self, signum: int) -> None:
        if self.stopping.is_set():
            self.say(f"{signal.Signals(signum).name} again: killing every part now")
            self._kill_now.set()
            return
        self.say(f"{signal.Signals(signum).name}: stopping every part")
        self.stopping.set()

    async def _start_all(self) -> None:
        for stage in sorted({p.stage for p in self.parts}):
            parts = [p for p in self.parts if p.stage == stage]
            for part in parts:
                await self._spawn(part)
            self.write_state()
            healthy = await asyncio.gather(
                *(self._wait_healthy(p, self.start_timeout) for p in parts)
            )
            if self.stopping.is_set():
                return
            failed = [p for p, ok in zip(parts, healthy, strict=True) if not ok]
            if failed:
                raise StartFailure("\n".join(self._failure(p) for p in failed))
            for part in parts:
                part.status = "running"
                self.say(f"{part.name} is up on port {part.port} (pid {part.pid})")
            self.write_state()

    def _failure(self, part: Part) -> str:
        assert part.process is not None
        if part.process.returncode is None:
            why = f"no answer from {part.health_url} within {self.start_timeout:.0f} s"
        else:
            why = describe_exit(part.process.returncode)
        return f"{part.name} failed to start ({why}); its last lines:\n{part.last_lines()}"

    async def _spawn(self, part: Part) -> None:
        part.tail.clear()
        part.process = await asyncio.create_subprocess_exec(
            *part.argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=part.env,
            preexec_fn=_prepare_child,
            limit=1024 * 1024,
        )
        part.started_at = time.monotonic()
        part.status = "starting"
        part.reader = asyncio.create_task(self._forward_output(part, part.process))

    async def _forward_output(self, part: Part, process: asyncio.subprocess.Process) -> None:
        """Copy the child's output to ours, each line tagged with its part, keeping a tail."""
        assert process.stdout is not None
        while True:
            try:
                raw = await process.stdout.readline()
            except (ValueError, asyncio.LimitOverrunError):
                raw = await process.stdout.read(64 * 1024)
            if not raw:
                return
            line = raw.decode(errors="replace").rstrip("\n")
            part.tail.append(line)
            self._line(part.name, line)

    async def _wait_healthy(self, part: Part, timeout: float) -> bool:
        """Poll the part's health URL until it answers 200, it exits, or time runs out."""
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2, trust_env=False) as client:
            while time.monotonic() < deadline and not self.stopping.is_set():
                if not part.running:
                    await self._drain(part)
                    return False
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(part.health_url)).status_code == 200:
                        return True
                await asyncio.sleep(0.2)
        return False

    async def _drain(self, part: Part) -> None:
        """Let the output reader catch the last lines of a child that just exited."""
        if part.reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(part.reader), timeout=2)

    async def _watch(self, part: Part) -> None:
        """Restart the part whenever it dies, backing off while it keeps dying."""
        backoff = FIRST_BACKOFF_SECONDS
        while not self.stopping.is_set():
            assert part.process is not None
            returncode = await part.process.wait()
            if self.stopping.is_set():
                return
            # What the dead process started (uvicorn's workers) would run on orphaned, still
            # holding the port and the database: the group goes with it.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(part.process.pid, signal.SIGKILL)
            await _group_gone(part.process.pid)
            await self._drain(part)
            lived = time.monotonic() - part.started_at
            if lived >= STABLE_AFTER_SECONDS:
                backoff = FIRST_BACKOFF_SECONDS
            part.status = "restarting"
            part.restarts += 1
            self.write_state()
            self.say(
                f"{part.name} {describe_exit(returncode)} after {lived:.1f} s; "
                f"restart {part.restarts} in {backoff:.1f} s"
            )
            await wait_set(self.stopping, backoff)
            if self.stopping.is_set():
                return
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
            await self._spawn(part)
            self.write_state()
            healthy = await self._wait_healthy(part, self.start_timeout)
            if self.stopping.is_set():
                return
            if healthy:
                part.status = "running"
                self.say(f"{part.name} is back on port {part.port} (pid {part.pid})")
            else:
                part.status = "failing"
                self.say(f"{part.name} did not come back healthy; its last lines:")
                self.out.write(part.last_lines() + "\n")
            self.write_state()

    async def _stop_all(self) -> None:
        """SIGTERM (NGINX: SIGQUIT) to every child, SIGKILL to what is left after the grace."""
        self.stopping.set()
        live = [p for p in self.parts if p.running]
        for part in live:
            assert part.process is not None
            with contextlib.suppress(ProcessLookupError):
                part.process.send_signal(part.stop_signal)
            part.status = "stopping"
        waits = [asyncio.create_task(p.process.wait()) for p in live if p.process]
        if waits:
            grace = asyncio.create_task(asyncio.wait(waits))
            kill = asyncio.create_task(self._kill_now.wait())
            await asyncio.wait(
                {grace, kill}, timeout=self.grace_seconds, return_when=asyncio.FIRST_COMPLETED
            )
            grace.cancel()
            kill.cancel()
        for part in self.parts:
            if part.process is None:
                continue
            # The whole group: NGINX workers and uvicorn workers go with their parent.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if part.process.returncode is None:
                    self.say(f"{part.name} ignored the stop signal; killing it")
                os.killpg(part.process.pid, signal.SIGKILL)
            await part.process.wait()
            await _group_gone(part.process.pid)
            await self._drain(part)
            part.status = "stopped"
        for task in waits:
            task.cancel()
        self.write_state()
        self.say("every part stopped")


async def _group_gone(pgid: int, timeout: float = 5.0) -> None:
    """Wait until no process of the group is left (a killed one takes a moment to die)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return
        await asyncio.sleep(0.05)


def run_supervisor(supervisor: Supervisor) -> int:
    """Run the supervisor on uvloop; its exit code."""
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(supervisor.run())
