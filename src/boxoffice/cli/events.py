"""`boxoffice events dead-letters [--service S]` and `boxoffice events replay ID`: inspect and
requeue the events a consumer gave up on, in the configured mode (RabbitMQ when distributed,
the data dir's in-process broker when embedded)."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from boxoffice.core.events import DeadLetter, EventBus
from boxoffice.core.runtime import event_bus
from boxoffice.settings import Settings, get_settings
from boxoffice.topology import SERVICE_NAMES

app = typer.Typer(no_args_is_help=True)
console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
T = TypeVar("T")

ServiceOption = Annotated[
    str | None,
    typer.Option("--service", "-s", help=f"Only this service ({', '.join(SERVICE_NAMES)})."),
]
DistributedOption = Annotated[
    bool | None,
    typer.Option(
        "--distributed/--embedded",
        help="Which system to look at (default: the configured BOXOFFICE_MODE).",
    ),
]


def _fail(message: str) -> NoReturn:
    Console(stderr=True, highlight=False).print(f"[bold red]error:[/] {message}")
    raise typer.Exit(1)


def _settings(distributed: bool | None) -> Settings:
    get_settings.cache_clear()
    try:
        settings = get_settings()
    except ValidationError as exc:
        _fail(f"invalid configuration: {exc.errors()[0]['msg']}")
    if distributed is None:
        return settings
    return settings.model_copy(update={"mode": "distributed" if distributed else "embedded"})


def _check_service(service: str | None) -> None:
    if service is not None and service not in SERVICE_NAMES:
        _fail(f"unknown service {service!r}; one of {', '.join(SERVICE_NAMES)}")


def _run(settings: Settings, work: Callable[[EventBus], Awaitable[T]]) -> T:
    async def main() -> T:
        bus = event_bus(settings, consumers=SERVICE_NAMES)
        try:
            return await work(bus)
        finally:
            await bus.aclose()

    try:
        return asyncio.run(main())
    except (OSError, ConnectionError, TimeoutError) as exc:
        where = "RabbitMQ" if settings.distributed else "the data dir's event broker"
        _fail(f"cannot reach {where}: {exc}")


def _when(letter: DeadLetter) -> str:
    return letter.dead_at.strftime("%Y-%m-%d %H:%M:%S") if letter.dead_at else "?"


@app.command("dead-letters")
def dead_letters(
    service: ServiceOption = None,
    distributed: DistributedOption = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="List at most this many.")] = 500,
) -> None:
    """List the events consumers gave up on (they stay until replayed)."""
    _check_service(service)
    settings = _settings(distributed)
    letters = _run(settings, lambda bus: bus.dead_letters(service, limit=limit))
    if not letters:
        console.print("No dead letters.")
        return
    table = Table(title=f"Dead letters ({settings.mode})")
    for column in ("service", "event id", "event", "source", "attempts", "dead since", "error"):
        table.add_column(column, overflow="fold")
    for letter in letters:
        table.add_row(
            letter.service,
            str(letter.event_id or "?"),
            letter.name,
            letter.source,
            str(letter.attempts),
            _when(letter),
            letter.error,
        )
    console.print(table)


@app.command()
def replay(
    event_id: Annotated[uuid.UUID, typer.Argument(help="The event id, as listed.")],
    service: ServiceOption = None,
    distributed: DistributedOption = None,
) -> None:
    """Put an event's dead letters back on their service's queue, to be handled again."""
    _check_service(service)
    settings = _settings(distributed)
    count = _run(settings, lambda bus: bus.replay(event_id, service))
    if count == 0:
        _fail(f"no dead letter of event {event_id}" + (f" in {service}" if service else ""))
    console.print(f"Replayed {count} dead letter(s) of event {event_id}.")
