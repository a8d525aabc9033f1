"""The load process (tests/faults/load.py) as the fault tests drive it: started, paused for the
checks, resumed, switched to a slow card, stopped."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.e2e.system import _terminate_with_parent
from tests.faults.records import Records

REPO = Path(__file__).parents[2]


class LoadRun:
    """tests/faults/load.py running as its own process against the cinema's gateway."""

    def __init__(self, base_url: str, folder: Path, clients: int) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "load.ndjson"
        self.control_path = folder / "control.json"
        self.switches: dict[str, Any] = {"paused": 0}
        self.control()
        self._records = Records()
        self._offset = 0
        self.log_path = folder / "load.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.faults.load",
                    base_url,
                    "--admin",
                    ADMIN_EMAIL,
                    "--password",
                    ADMIN_PASSWORD,
                    "--out",
                    str(self.path),
                    "--clients",
                    str(clients),
                    "--control",
                    str(self.control_path),
                ],
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_terminate_with_parent,
            )

    def records(self) -> Records:
        """Every line written so far (read on from where the last call stopped)."""
        if self.path.exists():
            with self.path.open("rb") as handle:
                handle.seek(self._offset)
                data = handle.read()
            complete = data[: data.rfind(b"\n") + 1]
            self._offset += len(complete)
            self._records.add_lines(complete)
        return self._records

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while self.records().ready is None:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the load did not start: {self.output()}")
            time.sleep(0.2)

    def wait_paid(self, count: int, timeout: float, after: float = 0.0) -> None:
        """Until the load has been paid `count` times (after `after`)."""
        deadline = time.monotonic() + timeout
        while len(self.records().paid(after=after)) < count:
            if self.process.poll() is not None or time.monotonic() > deadline:
                got = self.records().statuses(after=after)
                raise AssertionError(f"the load was not paid {count} times: {dict(got)}")
            time.sleep(0.2)

    def control(self, **values: Any) -> None:
        self.switches.update(values)
        tmp = self.control_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.switches))
        tmp.replace(self.control_path)

    def pause(self, timeout: float = 60) -> Records:
        """No new purchase, and none in flight any more; what the load has recorded."""
        pause = int(time.time() * 1000)
        self.control(paused=pause)
        deadline = time.monotonic() + timeout
        while pause not in self.records().pauses:
            if self.process.poll() is not None:
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"the load did not pause within {timeout} s")
            time.sleep(0.1)
        return self.records()

    def resume(self) -> None:
        self.control(paused=0)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")[-2000:]

    def stop(self, timeout: float = 40) -> Records:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return self.records()
