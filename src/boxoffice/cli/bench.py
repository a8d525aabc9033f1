"""`boxoffice bench SCENARIO`: the benchmark harness. It lives in the checkout's top-level
`bench/` folder (apart from the package, like the tests), so this command finds that folder next
to `src/`, puts the checkout on `sys.path` and hands over; an installed wheel has no `bench/`."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from boxoffice.cli.serving import fail

SCENARIOS = ("flash-sale", "disjoint", "browse", "funnel", "live", "all")


def checkout_root() -> Path | None:
    """The checkout this package runs from, if it has the bench/ folder."""
    root = Path(__file__).resolve().parents[3]  # src/boxoffice/cli/bench.py -> checkout
    if (root / "src" / "boxoffice").is_dir() and (root / "bench" / "main.py").is_file():
        return root
    return None


def _numbers(text: str, what: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        fail(f"{what} takes whole numbers separated by commas, e.g. 16,64 (got {text!r})")
    if not values or min(values) < 1:
        fail(f"{what} takes numbers of 1 or more (got {text!r})")
    return values


def register(app: typer.Typer) -> None:
    @app.command()
    def bench(
        scenario: Annotated[
            str, typer.Argument(help="flash-sale, disjoint, browse, funnel, live or all")
        ],
        embedded: Annotated[
            bool, typer.Option("--embedded", help="Embedded mode (default: distributed, NGINX)")
        ] = False,
        clients: Annotated[
            str | None, typer.Option(help="Concurrent customers, e.g. 64 or 16,64")
        ] = None,
        duration: Annotated[
            float | None, typer.Option(min=0.1, help="Seconds of the time-bound scenarios")
        ] = None,
        hall_seats: Annotated[
            str | None, typer.Option(help="Hall sizes, e.g. 200,2000 (the default)")
        ] = None,
        workers: Annotated[
            int | None, typer.Option(min=1, help="uvicorn workers per service (default: cores)")
        ] = None,
        url: Annotated[
            str | None, typer.Option(help="Measure a running system at this base URL")
        ] = None,
        admin_email: Annotated[str | None, typer.Option(help="With --url: an admin")] = None,
        admin_password: Annotated[str | None, typer.Option(help="With --url")] = None,
        no_ceilings: Annotated[
            bool, typer.Option("--no-ceilings", help="Skip pgbench, redis-benchmark, ping")
        ] = False,
        out: Annotated[
            Path | None, typer.Option(help="Where the JSON and PNG go (default bench/results/)")
        ] = None,
        tiny: Annotated[
            bool, typer.Option("--tiny", help="A few clients, seconds and seats (the tests')")
        ] = False,
    ) -> None:
        """Benchmark the system: flash-sale, disjoint, browse, funnel, live (or all), with ceilings
        measured in the same run; prints JSON and writes JSON and a PNG chart."""
        if scenario not in SCENARIOS:
            fail(f"unknown scenario {scenario!r}; one of {', '.join(SCENARIOS)}")
        if url and not (admin_email and admin_password):
            fail("--url needs --admin-email and --admin-password (setup creates the catalog)")
        root = checkout_root()
        if root is None:
            fail(
                "boxoffice bench needs a checkout of boxoffice: its bench/ folder is not "
                "installed with the package"
            )
        sys.path.insert(0, str(root))
        from bench.catalog import SetupFailed
        from bench.main import run
        from bench.options import Options
        from bench.system import StartFailed

        opts = Options(
            scenario=scenario,
            embedded=embedded,
            clients=_numbers(clients, "--clients") if clients else None,
            duration=duration,
            hall_seats=_numbers(hall_seats, "--hall-seats") if hall_seats else None,
            workers=workers or os.cpu_count() or 1,
            url=url.rstrip("/") if url else None,
            admin_email=admin_email,
            admin_password=admin_password,
            ceilings=not no_ceilings,
            out=out or root / "bench" / "results",
            tiny=tiny,
        )
        try:
            code = run(opts)
        except (StartFailed, SetupFailed) as exc:
            fail(f"boxoffice bench: {exc}", code=3)
        raise typer.Exit(code)
