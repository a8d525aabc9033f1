"""The fault suite's JSON: per fault, how long the system took to serve again and what was
checked. Written after every fault (a run cut short keeps what it measured), at
$BOXOFFICE_FAULTS_JSON or `faults.json` under pytest's base temp dir.
`scripts/fault_table.py --write` makes the README's "Faults survived" table from it."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
from pathlib import Path
from typing import Any

from tests.faults.checks import CHECKED

PATH_ENV = "BOXOFFICE_FAULTS_JSON"


class FaultLog:
    def __init__(self, path: Path, profile: str, settings: dict[str, str]) -> None:
        self.path = path
        self.data: dict[str, Any] = {
            "profile": profile,
            "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            "settings": settings,
            # Checked after every fault; each fault's own "checked" adds to these.
            "common_checks": list(CHECKED),
            "faults": [],
        }
        self.write()

    def add(self, entry: dict[str, Any]) -> None:
        self.data["faults"].append(entry)
        self.write()

    def note_restart(self, before: str) -> None:
        """The system was started afresh before a test (the last fault left it unable to serve)."""
        self.data.setdefault("system_restarts", []).append(before)
        self.write()

    def write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=2) + "\n")
        tmp.replace(self.path)
