"""`boxoffice events ...` (built with the events backbone)."""

import typer

app = typer.Typer(no_args_is_help=True)
