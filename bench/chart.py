"""One PNG per scenario run: throughput over time per step, and latency percentiles per step."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt

from bench.load import Recorder, latency_ms, timeline


def draw(path: Path, title: str, recorders: list[Recorder]) -> None:
    fig, (over_time, percentiles) = plt.subplots(2, 1, figsize=(11, 9))
    fig.suptitle(title)
    span = max((s.start + s.latency for r in recorders for s in r.samples), default=1.0)
    bin_s = max(0.25, round(span / 40, 2))
    for rec in recorders:
        for step in rec.steps():
            xs, ys = timeline(rec, step, bin_s)
            over_time.plot(xs, ys, label=f"{rec.label}: {step}", linewidth=1.2)
    over_time.set_xlabel("seconds since the start of the run")
    over_time.set_ylabel(f"responses / s ({bin_s:g} s bins)")
    over_time.set_title("throughput over time, per step")
    if over_time.get_legend_handles_labels()[0]:
        over_time.legend(fontsize="x-small", ncol=2)
    over_time.grid(alpha=0.3)

    labels, p50, p95, p99 = [], [], [], []
    for rec in recorders:
        for step in rec.steps():
            stats = latency_ms(s.latency for s in rec.of(step))
            labels.append(f"{rec.label}\n{step}")
            p50.append(stats["p50"] or 0)
            p95.append(stats["p95"] or 0)
            p99.append(stats["p99"] or 0)
    width = 0.27
    positions = range(len(labels))
    for offset, values, name in ((-width, p50, "p50"), (0, p95, "p95"), (width, p99, "p99")):
        percentiles.bar([x + offset for x in positions], values, width, label=name)
    percentiles.set_xticks(list(positions), labels, fontsize="x-small", rotation=30, ha="right")
    percentiles.set_ylabel("latency (ms)")
    if any(p99):
        percentiles.set_yscale("log")
    percentiles.set_title("latency percentiles, per step")
    percentiles.legend(fontsize="small")
    percentiles.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
