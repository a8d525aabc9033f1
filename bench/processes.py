"""Peak memory of the system's processes, read from /proc: each part's process and every
descendant (uvicorn's worker processes with --workers > 1, NGINX's workers)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import defaultdict
from pathlib import Path
from typing import Any


def _children() -> dict[int, list[int]]:
    children: defaultdict[int, list[int]] = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = (entry / "stat").read_text().rsplit(") ", 1)[1].split()
            children[int(fields[1])].append(int(entry.name))
    return children


def _tree(pid: int, children: dict[int, list[int]]) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def _status(pid: int) -> dict[str, int]:
    """VmHWM and VmRSS in kB (empty when the process is gone)."""
    out = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                out[key] = int(value.split()[0])
    return out


def _command(pid: int) -> str:
    with contextlib.suppress(OSError):
        raw = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").strip()
        return raw.decode(errors="replace")[:160]
    return ""


def peak_rss(parts: dict[str, int]) -> dict[str, Any]:
    """Per part: its processes' peak RSS (VmHWM, since each started) and current RSS, in MB."""
    children = _children()
    report: dict[str, Any] = {}
    for name, root in parts.items():
        processes = []
        for pid in _tree(root, children):
            if pid == os.getpid():
                continue
            status = _status(pid)
            if not status:
                continue
            processes.append(
                {
                    "pid": pid,
                    "role": "main" if pid == root else "child",
                    "peak_rss_mb": round(status.get("VmHWM", 0) / 1024, 1),
                    "rss_mb": round(status.get("VmRSS", 0) / 1024, 1),
                    "command": _command(pid),
                }
            )
        if name == "supervisor":
            # The supervisor's children are the parts themselves, listed under their names.
            processes = processes[:1]
        report[name] = {
            "peak_rss_mb": max((p["peak_rss_mb"] for p in processes), default=None),
            "processes": processes,
        }
    return report


def cpu_by_part(parts: dict[str, int]) -> dict[str, float]:
    """CPU time (user + system, seconds) used so far by each part, its descendants included.
    (A worker that exited is no longer counted: compare readings of the same processes.)"""
    children = _children()
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    # The supervisor's tree holds the other parts: each process counts for its own part only.
    roots = set(parts.values())
    for name, root in parts.items():
        total = 0
        for pid in _tree(
            root, {p: [c for c in cs if c not in roots] for p, cs in children.items()}
        ):
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
        out[name] = total / tick
    return out


# The shared servers, by process name: their CPU per booking is part of a sale's cost too.
SERVERS = {"postgres": "postgresql", "redis-server": "redis", "beam.smp": "rabbitmq"}


def server_cpu() -> dict[str, float]:
    """CPU time so far of the shared servers' processes, by name. A process's reaped children
    count too (their CPU moves to the parent's `cutime` when they exit): so a PostgreSQL backend
    that exited in between, pgbench's say, is still counted, through the postmaster."""
    tick = os.sysconf("SC_CLK_TCK")
    out = dict.fromkeys(SERVERS.values(), 0.0)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            raw = (entry / "stat").read_text()
            name = raw[raw.index("(") + 1 : raw.rindex(")")]
            if name in SERVERS:
                fields = raw.rsplit(") ", 1)[1].split()
                # utime, stime, cutime, cstime (stat fields 14-17)
                out[SERVERS[name]] += sum(int(f) for f in fields[11:15]) / tick
    return out


def cpu_seconds(parts: dict[str, int]) -> float:
    """CPU time (user + system) used so far by every process of the parts."""
    return sum(cpu_by_part(parts).values())


async def until_idle(
    parts: dict[str, int], limit_s: float, quiet_cores: float = 0.15
) -> float | None:
    """Wait until the parts together use less than `quiet_cores` of CPU over 2 s; the seconds
    that took, or None if they were still busy after `limit_s`."""
    started = time.monotonic()
    before = cpu_seconds(parts)
    while time.monotonic() - started < limit_s:
        await asyncio.sleep(2)
        now = cpu_seconds(parts)
        busy, before = (now - before) / 2, now
        if busy < quiet_cores:
            return time.monotonic() - started
    return None


def cpu_per(
    before: dict[str, float], after: dict[str, float], count: int
) -> dict[str, float] | None:
    """Milliseconds of CPU per `count` (a booking, say) each part used between two readings,
    and their `total`."""
    if not count:
        return None
    out = {name: round((after[name] - before.get(name, 0.0)) * 1000 / count, 2) for name in after}
    out["total"] = round(sum(out.values()), 2)
    return out
