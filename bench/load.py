"""The load generator's parts: an aiohttp client that times every request, a recorder of
(step, start, latency, status) samples, and the statistics the reports are made of."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

CONNECTION_ERROR = 0  # the status recorded when no HTTP answer came (refused, reset, timeout)


@dataclass(frozen=True)
class Sample:
    step: str
    start: float  # seconds since the recorder's start
    latency: float  # seconds
    status: int


@dataclass
class Recorder:
    """Every request of one (sub-)run; `label` names it in charts."""

    label: str
    t0: float = field(default_factory=time.perf_counter)
    samples: list[Sample] = field(default_factory=list)

    def restart(self) -> None:
        self.t0 = time.perf_counter()

    def add(self, step: str, started: float, latency: float, status: int) -> None:
        self.samples.append(Sample(step, started - self.t0, latency, status))

    def steps(self) -> list[str]:
        return list(dict.fromkeys(s.step for s in self.samples))

    def of(self, step: str) -> list[Sample]:
        return [s for s in self.samples if s.step == step]

    def count(self, predicate: Callable[[Sample], bool]) -> int:
        return sum(1 for s in self.samples if predicate(s))


class Http:
    """One aiohttp session for every simulated customer (a connection each, kept alive)."""

    def __init__(self, base_url: str, timeout: float = 60) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=None),
            timeout=aiohttp.ClientTimeout(total=timeout),
            trust_env=False,
        )

    async def __aenter__(self) -> Http:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.session.close()

    async def call(
        self,
        method: str,
        path: str,
        *,
        rec: Recorder | None = None,
        step: str = "",
        token: str | None = None,
        json_body: Any = None,
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        parse: bool = True,
    ) -> tuple[int, Any]:
        """(status, parsed JSON body or None); status 0 when no answer came. Recorded under
        `step` when `rec` is given."""
        sent = dict(headers or {})
        if token:
            sent["Authorization"] = f"Bearer {token}"
        body: Any = None
        started = time.perf_counter()
        try:
            async with self.session.request(
                method, self.base_url + path, json=json_body, data=form, headers=sent
            ) as response:
                raw = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError, OSError):
            status, raw = CONNECTION_ERROR, b""
        latency = time.perf_counter() - started
        if rec is not None:
            rec.add(step, started, latency, status)
        if parse and raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
        return status, body


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def latency_ms(latencies: Iterable[float]) -> dict[str, float | None]:
    values = sorted(latencies)
    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None, "mean": None}
    out = {f"p{q}": percentile(values, q) for q in (50, 95, 99)}
    out |= {"max": values[-1], "mean": sum(values) / len(values)}
    return {k: round(v * 1000, 2) for k, v in out.items()}


def step_stats(samples: list[Sample], wall: float) -> dict[str, Any]:
    """Requests, answers by status, throughput and latency of one step."""
    statuses = Counter(s.status for s in samples)
    ok = sum(n for code, n in statuses.items() if 200 <= code < 300)
    return {
        "requests": len(samples),
        "ok": ok,
        "status": {str(code): n for code, n in sorted(statuses.items())},
        "req_per_s": round(len(samples) / wall, 2) if wall > 0 else None,
        "ok_per_s": round(ok / wall, 2) if wall > 0 else None,
        "latency_ms": latency_ms(s.latency for s in samples),
    }


def all_steps(rec: Recorder, wall: float) -> dict[str, Any]:
    return {step: step_stats(rec.of(step), wall) for step in rec.steps()}


def status_counts(rec: Recorder) -> dict[str, int]:
    """The counts every report carries: conflicts, server errors, no answer at all."""
    return {
        "status_409": rec.count(lambda s: s.status == 409),
        "status_5xx": rec.count(lambda s: s.status >= 500),
        "status_4xx_other": rec.count(lambda s: 400 <= s.status < 500 and s.status != 409),
        "connection_errors": rec.count(lambda s: s.status == CONNECTION_ERROR),
    }


def timeline(rec: Recorder, step: str, bin_s: float) -> tuple[list[float], list[float]]:
    """(bin start times, completed requests per second) of one step."""
    ends = [s.start + s.latency for s in rec.of(step)]
    if not ends:
        return [], []
    bins: defaultdict[int, int] = defaultdict(int)
    for end in ends:
        bins[int(end // bin_s)] += 1
    last = max(bins)
    return [i * bin_s for i in range(last + 1)], [bins[i] / bin_s for i in range(last + 1)]


class CpuMeter:
    """The load generator's own CPU use over a stretch of wall time (it shares the machine)."""

    def __init__(self) -> None:
        self.cpu0 = time.process_time()
        self.wall0 = time.perf_counter()

    def report(self) -> dict[str, float]:
        cpu = time.process_time() - self.cpu0
        wall = time.perf_counter() - self.wall0
        return {
            "cpu_s": round(cpu, 3),
            "wall_s": round(wall, 3),
            "cpu_per_wall": round(cpu / wall, 3) if wall > 0 else 0.0,
        }


async def clients(count: int, client: Callable[[int], Awaitable[None]]) -> None:
    """Run `count` customers at once; the first failure (a bug, not an HTTP error) is raised."""
    await asyncio.gather(*(client(i) for i in range(count)))


async def hammer(
    http: Http,
    rec: Recorder,
    count: int,
    seconds: float,
    pick: Callable[[int, int], tuple[str, str, str | None]],
) -> float:
    """`count` customers read for `seconds`: customer i's n-th request is `pick(i, n)` =
    (step, path, token). The wall time it took."""
    deadline = time.perf_counter() + seconds

    async def customer(i: int) -> None:
        n = 0
        while time.perf_counter() < deadline:
            step, path, token = pick(i, n)
            await http.call("GET", path, rec=rec, step=step, token=token, parse=False)
            n += 1

    rec.restart()
    started = time.perf_counter()
    await clients(count, customer)
    return time.perf_counter() - started
