"""`boxoffice payments reconcile`: ask the running payment service to reconcile payments with
their bookings, and print what it found and fixed.

The reconciliation runs inside the payment service, where the card gateway's records are; this
command is its operator's handle. It signs a short-lived admin token with the system's key
(SECRET_KEY, or embedded mode's key in the data dir) as the auth service would, so it needs no
stored password.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from boxoffice.core.auth import issue_token
from boxoffice.settings import Settings, get_settings

app = typer.Typer(no_args_is_help=True)

EMBEDDED_URL = "http://127.0.0.1:8000/api/payments"
OPERATOR_ID = uuid.UUID("00000000-0000-0000-0000-00000000f00d")


def payment_service_url(settings: Settings) -> str:
    """Where the payment service answers: its own port when distributed, else the one app."""
    return settings.service_url("payment") if settings.distributed else EMBEDDED_URL


def operator_token(settings: Settings) -> str:
    token, _ = issue_token(
        settings,
        user_id=OPERATOR_ID,
        email="reconciler@boxoffice.local",
        role="admin",
        expires_in=dt.timedelta(minutes=10),
    )
    return token


async def request_reconciliation(
    base_url: str,
    token: str,
    *,
    dry_run: bool,
    transport: httpx.AsyncBaseTransport | None = None,
    timeout: float = 300.0,
) -> dict[str, Any]:
    """POST /reconcile on the payment service; the report as JSON."""
    async with httpx.AsyncClient(base_url=base_url, transport=transport, timeout=timeout) as client:
        response = await client.post(
            "/reconcile",
            params={"dry_run": "true" if dry_run else "false"},
            headers={"Authorization": f"Bearer {token}"},
        )
    if response.status_code != 200:
        raise RuntimeError(f"payment service answered {response.status_code}: {response.text}")
    return response.json()  # type: ignore[no-any-return]


def render(report: dict[str, Any], console: Console) -> None:
    findings = report.get("findings", [])
    mode = "dry run: nothing changed" if report.get("dry_run") else "fixes applied"
    console.print(
        f"checked {report.get('checked', 0)} payments, swept {report.get('swept', 0)} stuck ones, "
        f"{len(findings)} disagree with their booking ({mode})"
    )
    if not findings:
        return
    table = Table("payment", "booking", "payment status", "booking status", "problem", "action")
    table.add_column("fixed")
    for f in findings:
        booking = "/".join(
            x for x in (f.get("booking_status"), f.get("booking_payment_status")) if x
        )
        table.add_row(
            f["payment_id"],
            f["booking_id"],
            f["payment_status"],
            booking or "-",
            f["problem"],
            f["action"],
            "yes" if f.get("fixed") else (f.get("error") or "no"),
        )
    console.print(table)


@app.command("reconcile")
def reconcile_command(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only report; change nothing")] = False,
    url: Annotated[
        str | None,
        typer.Option(help="Payment service base URL (default: from the configured mode)"),
    ] = None,
) -> None:
    """Find payments whose booking disagrees with them and fix them (exit 1 if any remain)."""
    settings = get_settings()
    console = Console()
    try:
        report = asyncio.run(
            request_reconciliation(
                url or payment_service_url(settings), operator_token(settings), dry_run=dry_run
            )
        )
    except (httpx.HTTPError, RuntimeError) as exc:
        console.print(f"[red]reconciliation failed:[/red] {exc}")
        raise typer.Exit(2)
    render(report, console)
    if any(not f.get("fixed") for f in report.get("findings", [])):
        raise typer.Exit(1)
