"""The ping ceiling: a bare FastAPI app (one route, a tiny JSON) served exactly as the services
are, by `boxoffice.cli.serving.serve_app` (uvloop, httptools, no access log, the same workers),
and measured through the same NGINX at `/gateway/ping` (distributed; `boxoffice up
--bench-ping-port` renders that location) or directly (embedded: one worker).

    python -m bench.ping --port 9999 [--workers 2]      # what the harness starts
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from bench.load import CpuMeter, Http, Recorder, hammer, step_stats
from bench.system import die_with_parent, stop_group

ROOT = Path(__file__).resolve().parents[1]


def create_app() -> FastAPI:
    """The bare app: no middleware, no database, one route."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    from boxoffice.cli.serving import bind, serve_app

    sock = bind(args.host, args.port, "bench ping")
    if not serve_app("bench.ping:create_app", sock, workers=args.workers):
        sys.exit(3)


class PingServer:
    """`python -m bench.ping` in a session of its own; `stop()` leaves nothing running."""

    def __init__(self, port: int, workers: int) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        self.port = port
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.ping", "--port", str(port), "--workers", str(workers)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = (
                    self.process.stderr.read().decode(errors="replace")
                    if self.process.stderr
                    else ""
                )
                raise RuntimeError(f"the ping app exited: {err[-500:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/ping", timeout=2):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"the ping app did not answer in {timeout:.0f} s")

    def stop(self) -> None:
        import signal

        stop_group(self.process, signal.SIGTERM, timeout=15)
        if self.process.stderr:
            self.process.stderr.close()


async def measure(
    base_url: str, path: str, clients: int, seconds: float, label: str
) -> dict[str, Any]:
    """`clients` customers GET `path` for `seconds`: its req/s and latency."""
    async with Http(base_url) as http:
        rec = Recorder(label)
        meter = CpuMeter()
        wall = await hammer(http, rec, clients, seconds, lambda i, n: ("ping", path, None))
        stats = step_stats(rec.samples, wall)
        return {
            "url": base_url + path,
            "clients": clients,
            "seconds": round(wall, 3),
            "req_per_s": stats["ok_per_s"],
            "status": stats["status"],
            "latency_ms": stats["latency_ms"],
            "loadgen_cpu": meter.report(),
        }


async def ping_ceiling(
    *, gateway_url: str | None, port: int, workers: int, clients: int, seconds: float
) -> dict[str, Any]:
    """Start the ping app, measure it (through the gateway when given), stop it."""
    import asyncio

    server = PingServer(port, workers)
    try:
        await asyncio.to_thread(server.wait_ready)
        if gateway_url:
            result = await measure(gateway_url, "/gateway/ping", clients, seconds, "ping")
            result["through"] = "nginx (the gateway, same proxy settings as the services)"
        else:
            result = await measure(f"http://127.0.0.1:{port}", "/ping", clients, seconds, "ping")
            result["through"] = "direct (embedded mode: uvicorn, no gateway)"
        result["workers"] = workers
        result["server"] = "boxoffice.cli.serving.serve_app (as `boxoffice serve`)"
        return result
    finally:
        await asyncio.to_thread(server.stop)


if __name__ == "__main__":
    main()
