"""The `boxoffice` command: run the system, one service, migrations, demo data, operations
(checks, dead letters, reconciliation), benchmarks."""

from __future__ import annotations

import typer

from boxoffice.cli import bench, check, events, payments, run, users

app = typer.Typer(
    help="boxoffice: a cinema ticketing system.", no_args_is_help=True, add_completion=False
)
run.register(app)
check.register(app)
bench.register(app)
app.add_typer(events.app, name="events", help="Inspect and replay dead-lettered events.")
app.add_typer(payments.app, name="payments", help="Payment operations (reconciliation).")
app.add_typer(users.app, name="users", help="Accounts and roles: list, create, set-role, ...")
