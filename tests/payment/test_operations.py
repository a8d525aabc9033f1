"""What operators get: `payments_total` by outcome, and `boxoffice payments reconcile`."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client import REGISTRY
from rich.console import Console
from typer.testing import CliRunner

from boxoffice.cli import app as cli
from boxoffice.cli.payments import operator_token, render, request_reconciliation
from tests.conftest import scrape

# One system per module and backend (see conftest.py): its event loop is the module's.
in_module_loop = pytest.mark.asyncio(loop_scope="module")


def payments_total(outcome: str) -> float:
    return REGISTRY.get_sample_value("payments_total", {"outcome": outcome}) or 0.0


@in_module_loop
async def test_payments_total_counts_attempts_by_outcome(cinema):
    alice = cinema.customer()
    booking = await cinema.book(alice)
    before = {o: payments_total(o) for o in ("completed", "declined", "replayed", "rejected")}

    await cinema.pay(alice, booking, amount=1)
    await cinema.pay(alice, booking, payment_token="tok_decline")
    await cinema.pay(alice, booking, key="once")
    await cinema.pay(alice, booking, key="once")

    assert payments_total("rejected") - before["rejected"] == 1
    assert payments_total("declined") - before["declined"] == 1
    assert payments_total("completed") - before["completed"] == 1
    assert payments_total("replayed") - before["replayed"] == 1
    assert 'payments_total{outcome="completed"}' in await scrape()


@in_module_loop
async def test_the_reconcile_command_reports_a_healthy_system_as_such(cinema):
    alice = cinema.customer()
    booking = await cinema.book(alice)
    assert (await cinema.pay(alice, booking)).status_code == 201
    await cinema.booking_reaches(alice, booking["id"], "confirmed", "paid")

    report = await request_reconciliation(
        "http://test/api/payments",
        operator_token(cinema.settings),
        dry_run=True,
        transport=httpx.ASGITransport(app=cinema.api.app),
    )

    assert report["dry_run"] is True
    assert report["checked"] >= 1
    assert report["findings"] == []
    console = Console(record=True, width=160)
    render(report, console)
    assert "0 disagree with their booking" in console.export_text()


def test_the_reconcile_command_fails_clearly_when_the_payment_service_is_down():
    result = CliRunner().invoke(
        cli, ["payments", "reconcile", "--url", "http://127.0.0.1:1", "--dry-run"]
    )
    assert result.exit_code == 2
    assert "reconciliation failed" in result.output
