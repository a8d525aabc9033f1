"""`boxoffice payments ...` (built with the payment service)."""

import typer

app = typer.Typer(no_args_is_help=True)
