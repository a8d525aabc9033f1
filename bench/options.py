"""What a run was asked for (`boxoffice bench`'s options, with each scenario's defaults and the
tiny profile the tests use), and what every scenario gets to work with."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.catalog import Catalog
from bench.load import Http

SCENARIOS = ("flash-sale", "disjoint", "browse", "funnel", "live")


@dataclass(frozen=True)
class Profile:
    """Sizes of a run when the options leave them out."""

    clients: dict[str, list[int]]
    duration: float
    hall_seats: list[int]
    sell_out_timeout: float
    pgbench_scale: int
    pgbench_clients: int
    pgbench_seconds: int
    redis_requests: int
    rabbit_messages: int
    stop_grace: float  # seconds between SIGTERM and SIGKILL when the run stops the system


DEFAULT = Profile(
    clients={
        "flash-sale": [64, 16],
        "disjoint": [200],
        "browse": [64],
        "funnel": [16],
        "live": [1000],  # open seat maps (listeners), not clients sending requests
    },
    duration=10.0,
    hall_seats=[200, 2000],
    sell_out_timeout=300.0,
    pgbench_scale=10,
    pgbench_clients=16,
    pgbench_seconds=10,
    redis_requests=100_000,
    rabbit_messages=20_000,
    stop_grace=30.0,
)
TINY = Profile(
    clients={"flash-sale": [4], "disjoint": [8], "browse": [4], "funnel": [2], "live": [20]},
    duration=1.5,
    hall_seats=[20, 60],
    sell_out_timeout=60.0,
    pgbench_scale=1,
    pgbench_clients=4,
    pgbench_seconds=1,
    redis_requests=2_000,
    rabbit_messages=300,
    stop_grace=5.0,
)


@dataclass(frozen=True)
class Options:
    scenario: str
    embedded: bool = False
    clients: list[int] | None = None
    duration: float | None = None
    hall_seats: list[int] | None = None
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    url: str | None = None
    admin_email: str | None = None
    admin_password: str | None = None
    ceilings: bool = True
    out: Path = Path("bench/results")
    tiny: bool = False

    @property
    def mode(self) -> str:
        return "embedded" if self.embedded else "distributed"

    @property
    def profile(self) -> Profile:
        return TINY if self.tiny else DEFAULT

    @property
    def scenarios(self) -> list[str]:
        return list(SCENARIOS) if self.scenario == "all" else [self.scenario]

    def clients_for(self, scenario: str) -> list[int]:
        return self.clients or self.profile.clients[scenario]

    @property
    def seconds(self) -> float:
        return self.duration or self.profile.duration

    @property
    def halls(self) -> list[int]:
        return sorted(self.hall_seats or self.profile.hall_seats)

    @property
    def big_hall(self) -> int:
        return self.halls[-1]

    @property
    def focus_clients(self) -> int:
        """Clients of the browse scenario's focused seat-map runs and of the ping ceiling."""
        return 64 if not self.tiny and not self.clients else max(self.clients_for("browse"))

    def customers_needed(self) -> int:
        needs = {"flash-sale": 1, "disjoint": 1, "browse": 0.5, "funnel": 0, "live": 0}
        return max([int(max(self.clients_for(s)) * needs[s]) + 1 for s in self.scenarios] + [1])


@dataclass
class Context:
    """What a scenario works with: the options, the HTTP client, the catalog and its customers,
    and where the booking database is (None: only through the API)."""

    opts: Options
    http: Http
    catalog: Catalog
    database: tuple[str, str] | None
    # The pids of the system's parts (the harness's own system only): CPU per part.
    parts: Callable[[], dict[str, int]] | None = None
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
