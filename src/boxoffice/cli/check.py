"""`boxoffice check`: are the system's rules kept? Reads the five databases and the event bus
(in the configured mode, or `--embedded` / `--distributed`) and prints every violation, as a
table or `--json`.

Exit codes, for scripts and monitors: 0 clean, 1 violations found, 2 a database or the bus
could not be read (or the command was misused).
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from boxoffice.cli.serving import load_settings
from boxoffice.invariants import (
    DEFAULT_GRACE_SECONDS,
    KINDS,
    CheckReport,
    SourceUnreadable,
    check_until_settled,
)
from boxoffice.settings import Settings
from boxoffice.topology import SERVICE_NAMES

CLEAN, VIOLATIONS, UNREADABLE = 0, 1, 2


def _console() -> Console:
    # Made per call: the table goes to whatever stdout is now (a pipe, a test's capture).
    return Console(highlight=False, width=None if sys.stdout.isatty() else 160)


def _fail(message: str, as_json: bool) -> NoReturn:
    if as_json:
        typer.echo(json.dumps({"ok": False, "error": message}))
    Console(stderr=True, highlight=False, soft_wrap=True).print(
        Text("error: ", style="bold red") + message
    )
    raise typer.Exit(UNREADABLE)


def _database_overrides(values: list[str], as_json: bool) -> dict[str, str]:
    overrides: dict[str, str] = {}
    for value in values:
        service, sep, url = value.partition("=")
        if not sep or service not in SERVICE_NAMES or not url:
            _fail(
                f"--database takes SERVICE=URL with SERVICE one of {', '.join(SERVICE_NAMES)}",
                as_json,
            )
        overrides[service] = url
    return overrides


def _settings(distributed: bool | None) -> Settings:
    if distributed is None:
        return load_settings()
    return load_settings("distributed" if distributed else "embedded")


def render(report: CheckReport, console: Console) -> None:
    """The report for a person: what was read, then each violation."""
    c = report.checked
    console.print(
        f"Checked {c['bookings']} bookings ({c['live_seats']} live seats), {c['payments']} "
        f"payments, {c['showtimes']} showtimes, {c['confirmation_notices']} confirmations, "
        f"the outboxes and {c['dead_letters']} dead letters ({report.mode}; changes younger "
        f"than {report.grace_seconds:g} s are in flight: {report.in_flight})."
    )
    counts = report.counts()
    summary = Table(title="Rules", title_justify="left")
    for column in ("rule", "violations", "broken when"):
        summary.add_column(column, overflow="fold")
    for kind, meaning in KINDS.items():
        mark = "[green]0[/]" if counts[kind] == 0 else f"[bold red]{counts[kind]}[/]"
        summary.add_row(kind, mark, meaning)
    console.print(summary)
    if report.ok:
        console.print("[bold green]All rules hold.[/]")
        return
    table = Table(title="Violations", title_justify="left")
    for column in ("kind", "where", "ids", "detail"):
        table.add_column(column, overflow="fold")
    for v in report.violations:
        table.add_row(v.kind, v.service or "-", "\n".join(v.ids), v.detail)
    console.print(table)
    after = f" after {report.rounds} checks" if report.rounds > 1 else ""
    console.print(f"[bold red]{len(report.violations)} violations{after}.[/]")


def register(app: typer.Typer) -> None:
    @app.command()
    def check(
        as_json: Annotated[
            bool, typer.Option("--json", help="Print the report as JSON (for scripts)")
        ] = False,
        grace: Annotated[
            float,
            typer.Option(
                min=0,
                help="Seconds a change may still have events in flight before it counts "
                "(0: everything counts, e.g. for a stopped system)",
            ),
        ] = DEFAULT_GRACE_SECONDS,
        settle: Annotated[
            float,
            typer.Option(
                min=0,
                help="Check again (every second) until clean or this many seconds are up: "
                "right after a load",
            ),
        ] = 0.0,
        distributed: Annotated[
            bool | None,
            typer.Option(
                "--distributed/--embedded",
                help="Which system to check (default: the configured BOXOFFICE_MODE)",
            ),
        ] = None,
        database: Annotated[
            list[str] | None,
            typer.Option(
                "--database",
                metavar="SERVICE=URL",
                help="A service's database URL, when it is not derived from POSTGRES_URL "
                "(one database server per service, as in deploy/compose.yaml); repeatable",
            ),
        ] = None,
    ) -> None:
        """Check the rules across services: seats, money, notices, events (exit 1 if broken)."""
        settings = _settings(distributed)
        overrides = _database_overrides(database or [], as_json)
        if settings.database_url and set(overrides) != set(SERVICE_NAMES):
            _fail(
                "DATABASE_URL names one service's database; the check reads all five: unset it "
                "and set POSTGRES_URL (and BOXOFFICE_DB_PREFIX), or give each service's URL "
                "with --database SERVICE=URL",
                as_json,
            )
        try:
            report = asyncio.run(
                check_until_settled(settings, settle=settle, grace=grace, urls=overrides)
            )
        except SourceUnreadable as exc:
            _fail(str(exc), as_json)
        if as_json:
            typer.echo(json.dumps(report.as_json(), indent=2, default=str))
        else:
            render(report, _console())
        raise typer.Exit(CLEAN if report.ok else VIOLATIONS)
