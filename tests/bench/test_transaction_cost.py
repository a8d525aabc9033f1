"""bench/transaction_cost.py keeps running and reports each way (no timing assertions)."""

from __future__ import annotations

import asyncio

from bench import transaction_cost


def test_each_way_of_sending_a_transaction_is_timed():
    report = asyncio.run(transaction_cost.measure(transactions=20, rounds=1))
    costs = report["client_cpu_ms_per_transaction"]
    assert set(costs) == {"sqlalchemy_session", "sqlalchemy_core", "asyncpg"}
    assert all(ms > 0 for ms in costs.values())
