"""bench/rabbit_pace.py: a sale's events replayed through the services' own RabbitBus keep
running, and the topology it replays is the services' own (no timing assertions)."""

from __future__ import annotations

import asyncio
import importlib

from bench import rabbit_pace


def test_the_replayed_topology_is_what_the_services_consume():
    for service, names in rabbit_pace.CONSUMERS.items():
        handlers = importlib.import_module(f"boxoffice.{service}.consumers").handlers
        assert set(names) == set(handlers.names) & set(rabbit_pace.SALE), service
    for service in ("payment",):  # auth consumes no events
        handlers = importlib.import_module(f"boxoffice.{service}.consumers").handlers
        assert not set(handlers.names) & set(rabbit_pace.SALE), service


def test_a_small_replay_reports_rabbitmqs_cpu_per_sale_both_ways():
    report = asyncio.run(rabbit_pace.measure(sales=5, pace=50.0))
    assert report["deliveries_per_sale"] == 5 and report["events_per_sale"] == 3
    for round_ in (report["all_at_once"], report["paced"]):
        assert round_["sales_per_s"] > 0 and round_["rabbitmq_cpu_ms_per_sale"] >= 0
    assert report["paced"]["sales_per_s_asked"] == 50.0
