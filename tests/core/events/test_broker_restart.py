"""A running relay and consumer ride out a real RabbitMQ restart and a cut connection, with no
process restart: every event written before, during and after reaches the consumer once."""

from __future__ import annotations

import time

import pytest

from tests.core.events.conftest import eventually
from tests.core.events.test_contract import _count, _zero, ledger_handlers
from tests.servers import TcpProxy, rabbitmq_down

pytestmark = pytest.mark.parametrize("adapter", ["rabbitmq"])

# How soon after the broker is back the first waiting event must arrive (the bound is
# 5 s; the relay's longest pause between tries is 2 s). A bound on waiting, with room for a
# loaded machine, not a benchmark.
DELIVERED_WITHIN = 10.0


async def _orders(world, shop_ctx, seqs) -> list[str]:
    return [str(await world.place_order(shop_ctx, seq=i)) for i in seqs]


async def test_events_flow_again_after_the_real_broker_restarts_under_a_running_system(world):
    shop, ledger = world.name("shop"), world.name("ledger")
    ledger_ctx = await world.service(ledger, ledger_handlers(ledger))
    shop_ctx = await world.service(shop)
    placed = await _orders(world, shop_ctx, range(3))
    await eventually(lambda: _count(world.entries(ledger_ctx), 3))

    async with rabbitmq_down():
        placed += await _orders(world, shop_ctx, range(3, 6))  # committed; they wait
    back = time.monotonic()

    await eventually(lambda: _count(world.entries(ledger_ctx), 4), timeout=DELIVERED_WITHIN)
    print(f"first event after the restart arrived {time.monotonic() - back:.2f}s after")
    placed += await _orders(world, shop_ctx, range(6, 9))
    entries = await eventually(lambda: _count(world.entries(ledger_ctx), 9))
    await eventually(lambda: _zero(world.unpublished(shop_ctx)))
    assert sorted(e.order_id for e in entries) == sorted(placed)  # each once, none lost


async def test_events_flow_again_after_the_broker_connections_are_cut_mid_stream(world):
    shop, ledger = world.name("shop"), world.name("ledger")
    async with TcpProxy(5672) as proxy:
        world.bus.url = world.bus.url.replace(":5672", f":{proxy.port}")
        assert f":{proxy.port}" in world.bus.url
        ledger_ctx = await world.service(ledger, ledger_handlers(ledger))
        shop_ctx = await world.service(shop)
        placed = await _orders(world, shop_ctx, range(3))
        await eventually(lambda: _count(world.entries(ledger_ctx), 3))
        assert proxy.open_connections >= 2  # the relay's and the consumer's

        proxy.cut()
        cut = time.monotonic()
        placed += await _orders(world, shop_ctx, range(3, 6))
        await eventually(lambda: _count(world.entries(ledger_ctx), 4), timeout=DELIVERED_WITHIN)
        print(f"first event after the cut arrived {time.monotonic() - cut:.2f}s after")
        entries = await eventually(lambda: _count(world.entries(ledger_ctx), 6))
        await eventually(lambda: _zero(world.unpublished(shop_ctx)))
        assert sorted(e.order_id for e in entries) == sorted(placed)
