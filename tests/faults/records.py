"""What the load process wrote (tests/faults/load.py): every answer, and from the 2xx ones what
the system promised its customers."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Records:
    """The load's answers, read from its ndjson file."""

    answers: list[dict[str, Any]] = field(default_factory=list)
    ready: dict[str, Any] | None = None
    summary: dict[str, Any] | None = None

    pauses: set[int] = field(default_factory=set)

    @classmethod
    def read(cls, path: Path) -> Records:
        records = cls()
        if path.exists():
            records.add_lines(path.read_bytes())
        return records

    def add_lines(self, data: bytes) -> None:
        for line in data.splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue  # a line cut short by a kill
            kind = row.get("kind")
            if kind == "ready":
                self.ready = row
            elif kind == "summary":
                self.summary = row
            elif kind == "paused":
                self.pauses.add(int(row["pause"]))
            elif "step" in row:
                self.answers.append(row)

    def ok(self, step: str) -> list[dict[str, Any]]:
        return [a for a in self.answers if a["step"] == step and 200 <= a["status"] < 300]

    @property
    def bookings(self) -> dict[str, dict[str, Any]]:
        """Bookings the system answered 2xx for, by id."""
        return {a["booking_id"]: a for a in self.ok("book")}

    @property
    def payments(self) -> dict[str, dict[str, Any]]:
        """Payments the system answered 2xx for, by id."""
        return {a["payment_id"]: a for a in self.ok("pay")}

    def paid(self, after: float = 0.0, before: float = float("inf")) -> list[dict[str, Any]]:
        """2xx payments answered within (after, before]."""
        return [a for a in self.ok("pay") if after < a["t"] <= before]

    def statuses(self, after: float = 0.0, before: float = float("inf")) -> Counter[str]:
        """Answers by "step status" within (after, before]."""
        return Counter(
            f"{a['step']} {a['status']}" for a in self.answers if after < a["t"] <= before
        )

    def first_paid_after(self, moment: float) -> float | None:
        """When the first purchase that started after `moment` was paid (2xx)."""
        times = [a["t"] for a in self.ok("pay") if a["t0"] >= moment]
        return min(times) if times else None
