"""What RabbitMQ spends on a sale's events, at the pace a sale makes them and all at once.

A flash sale's `service_cpu` puts ~6 ms of RabbitMQ's CPU in every sale, while the quorum-queue
ceiling (`boxoffice bench`'s `rabbitmq_quorum`) costs ~0.26 ms a message. This replays a sale's
events through the services' own `RabbitBus` (queues declared as the services declare them,
two consumers a queue as two uvicorn workers make, publishes one at a time as a quiet relay
makes them): `booking.created` to movie and notification, `payment.completed` to booking and
notification, `booking.confirmed` to notification. Once as fast as they go, once at the given
sales a second. Prints one JSON object; its queues are deleted afterwards.

    .venv/bin/python bench/rabbit_pace.py --sales 300 --pace 15
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import resources
from bench.processes import server_cpu
from boxoffice.core.events.bus import Outcome
from boxoffice.core.events.envelope import Event
from boxoffice.core.events.rabbitmq import RabbitBus

# Who consumes what of a sale's events (the services' consumers.py).
CONSUMERS = {
    "movie": ("booking.created",),
    "booking": ("payment.completed",),
    "notification": ("booking.created", "payment.completed", "booking.confirmed"),
}
SALE = ("booking.created", "payment.completed", "booking.confirmed")
WORKERS = 2


def _event(name: str, booking_id: str) -> Event:
    return Event(
        id=uuid.uuid4(),
        name=name,
        source=name.split(".")[0],
        occurred_at=dt.datetime.now(dt.UTC),
        correlation_id=uuid.uuid4().hex,
        payload={"booking_id": booking_id, "seats": ["A1", "A2"], "movie_title": "x" * 40},
        aggregate_id=booking_id,
    )


async def _round(prefix: str, sales: int, per_second: float | None) -> dict[str, Any]:
    expected = {s: sales * sum(n in SALE for n in names) for s, names in CONSUMERS.items()}
    received = dict.fromkeys(CONSUMERS, 0)
    all_in = asyncio.Event()
    buses: list[RabbitBus] = []
    consumers: list[asyncio.Task[None]] = []
    publisher = RabbitBus(resources.RABBITMQ_URL, prefix=prefix)
    try:
        for service, names in CONSUMERS.items():
            for _ in range(WORKERS):
                bus = RabbitBus(resources.RABBITMQ_URL, prefix=prefix)
                buses.append(bus)
                await bus.declare(service, names)

                async def handle(event: Event, earlier: int, service: str = service) -> Outcome:
                    received[service] += 1
                    if all(received[s] >= expected[s] for s in received):
                        all_in.set()
                    return Outcome("processed", 1)

                consumers.append(asyncio.create_task(bus.consume(service, names, handle)))
        await asyncio.sleep(1.0)  # every consumer attached
        before = server_cpu()["rabbitmq"]
        started = time.perf_counter()
        for _ in range(sales):
            booking_id = str(uuid.uuid4())
            for name in SALE:
                await publisher.publish([_event(name, booking_id)])
            if per_second:
                await asyncio.sleep(1 / per_second)
        await asyncio.wait_for(all_in.wait(), timeout=60 + sales)
        seconds = time.perf_counter() - started
        cpu_s = server_cpu()["rabbitmq"] - before
    finally:
        for task in consumers:
            task.cancel()
        await asyncio.gather(*consumers, return_exceptions=True)
        for bus in [*buses, publisher]:
            await bus.aclose()
        await resources.delete_rabbit_names(prefix)
    deliveries = sum(expected.values())
    return {
        "sales_per_s_asked": per_second,
        "sales_per_s": round(sales / seconds, 1),
        "rabbitmq_cpu_ms_per_sale": round(cpu_s * 1000 / sales, 3),
        "rabbitmq_cpu_ms_per_delivery": round(cpu_s * 1000 / deliveries, 3),
    }


async def measure(sales: int, pace: float) -> dict[str, Any]:
    prefix = f"bench_pace_{uuid.uuid4().hex[:8]}_"
    return {
        "sales": sales,
        "events_per_sale": len(SALE),
        "deliveries_per_sale": sum(n in SALE for names in CONSUMERS.values() for n in names),
        "consumers_per_queue": WORKERS,
        "all_at_once": await _round(prefix, sales, None),
        "paced": await _round(prefix, sales, pace),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sales", type=int, default=300)
    parser.add_argument("--pace", type=float, default=15.0, help="sales a second when paced")
    args = parser.parse_args(argv)
    print(json.dumps(asyncio.run(measure(args.sales, args.pace)), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
