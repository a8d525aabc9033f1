"""`boxoffice up`, `boxoffice up --distributed`, `boxoffice serve NAME`, `migrate`, `demo-data`."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def up() -> None:
        """Run the whole system (not built yet)."""
        raise typer.Exit(1)
