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

    @classmethod
    def read(cls, path: Path) -> Records:
        records = cls()
        if not path.exists():
            return records
        for line in path.read_text().splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue  # a line cut short by a kill
            kind = row.get("kind")
            if kind == "ready":
                records.ready = row
            elif kind == "summary":
                records.summary = row
            elif "step" in row:
                records.answers.append(row)
        return records

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
