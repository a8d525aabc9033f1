"""Services wired the way their app.py does it: `ServiceDefinition(..., **events_wiring(...))`,
run by the app factory; an event recorded in a request leaves after the request committed."""

from __future__ import annotations

import contextlib
import uuid

import httpx
import sqlalchemy as sa
from fastapi import APIRouter

from boxoffice.core.app import DbSession, ServiceDefinition, create_service_app
from boxoffice.core.errors import Conflict
from boxoffice.core.events import EventHandlers, IncomingEvent, events_wiring, record_event
from tests.core.events.conftest import eventually, orders
from tests.core.events.test_contract import ledger_handlers


def shop_definition(name: str) -> ServiceDefinition:
    router = APIRouter()

    @router.post("/orders", status_code=201)
    async def place_order(session: DbSession, fail: bool = False) -> dict[str, str]:
        order_id = uuid.uuid4()
        await session.execute(sa.insert(orders).values(id=order_id, customer="bo"))
        record_event(session, "order.placed", {"order_id": order_id}, aggregate_id=order_id)
        if fail:
            raise Conflict("the till jammed after the event was recorded")
        return {"order_id": str(order_id)}

    return ServiceDefinition(
        name=name,
        package="boxoffice.core",
        title=name,
        description="A throwaway shop.",
        routers=[router],
        **events_wiring(name),
    )


def ledger_definition(handlers: EventHandlers) -> ServiceDefinition:
    return ServiceDefinition(
        name=handlers.service,
        package="boxoffice.core",
        title=handlers.service,
        description="A throwaway ledger.",
        routers=[],
        **events_wiring(handlers),
    )


async def test_an_event_recorded_in_a_request_leaves_after_commit_with_its_correlation_id(world):
    shop, ledger = world.name("shop"), world.name("ledger")
    calls: list[IncomingEvent] = []
    apps = []
    for defn in (ledger_definition(ledger_handlers(ledger, calls)), shop_definition(shop)):
        await (await world.database(defn.name)).dispose()  # tables, as migrations would make
        apps.append(
            create_service_app(
                defn,
                world.runtime,
                database_url=world.database_url(defn.name),
                run_migrations=False,
            )
        )
    async with contextlib.AsyncExitStack() as stack:
        for app in apps:
            await stack.enter_async_context(app.router.lifespan_context(app))
        client = await stack.enter_async_context(
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=apps[1]),
                base_url="http://shop",
            )
        )

        failed = await client.post("/orders", params={"fail": True})
        placed = await client.post("/orders", headers={"X-Correlation-ID": "till-7"})

        assert failed.status_code == 409
        assert placed.status_code == 201
        await eventually(lambda: _called(calls))
        order_id = placed.json()["order_id"]
        assert [(c.payload["order_id"], c.correlation_id, c.source) for c in calls] == [
            (order_id, "till-7", shop)
        ]


async def _called(calls):
    return bool(calls)
