"""Events backbone: transactional outbox, relay with confirms, idempotent consumers, dead letters.

Producer (`<service>/events.py` declares what it publishes): record the event in the same
transaction as the state change it announces; it is published only after that transaction
commits (nothing at all if it rolls back):

    from boxoffice.core.events import EventPayload, EventRecorder

    class BookingCreated(EventPayload):
        event_name: ClassVar[str] = "booking.created"
        booking_id: uuid.UUID
        ...

    EventRecorder(session).record(BookingCreated(booking_id=booking.id, ...),
                                  aggregate_id=booking.id)  # one aggregate's events in order

Consumer (`<service>/consumers.py`): a handler runs in the consumer's own transaction together with
an inbox row keyed by the event id, so a redelivered event has no second effect. A handler that
raises is retried with backoff (`EVENT_MAX_ATTEMPTS`), then dead-lettered, never lost:

    from sqlalchemy.ext.asyncio import AsyncSession
    from boxoffice.core.app import ServiceContext
    from boxoffice.core.events import EventHandlers, EventReader, IncomingEvent

    handlers = EventHandlers("notification")

    class ConfirmedBooking(EventReader):        # tolerant reader: only what you need,
        booking_id: uuid.UUID                   # unknown fields ignored

    @handlers.on("booking.confirmed")
    async def on_booking_confirmed(
        event: IncomingEvent, session: AsyncSession, ctx: ServiceContext
    ) -> None:
        confirmed = event.read(ConfirmedBooking)   # MalformedEvent if booking_id is missing
        ...                                         # no commit: the consumer commits

Wiring (`<service>/app.py`): the relay (every producer), the consumer (if it handles events):

    from boxoffice.core.events import events_wiring
    from boxoffice.notification.consumers import handlers

    events = events_wiring(handlers)            # or events_wiring("payment"): produce only
    SERVICE = ServiceDefinition(
        ...,
        startup=[*events.startup, seed_something],     # events first
        background=[*events.background, sweeper],
        shutdown=[*events.shutdown],
    )                                  # or ServiceDefinition(..., **events_wiring(handlers))

Tables (`<service>/migrations`): the outbox and inbox live in every service's own database.

    # migrations/env.py
    from boxoffice.core.events import events_metadata
    run_env([Base.metadata, events_metadata])

    # migrations/versions/0001_initial.py
    from boxoffice.core.events.tables import create_event_tables, drop_event_tables
    def upgrade() -> None:
        ...; create_event_tables()
    def downgrade() -> None:
        drop_event_tables(); ...

The bus is `runtime.bus`: RabbitMQ in distributed mode (`rabbitmq.RabbitBus`), an in-process
broker on a SQLite file in the data dir in embedded mode (`local.LocalBus`). See docs/events.md.
"""

from boxoffice.core.events.bus import DeadLetter, EventBus, Outcome
from boxoffice.core.events.envelope import Event, IncomingEvent, MalformedEvent
from boxoffice.core.events.handlers import EventHandlers, Handler
from boxoffice.core.events.outbox import record_event
from boxoffice.core.events.payloads import EventPayload, EventReader, EventRecorder, read_event
from boxoffice.core.events.tables import (
    InboxEvent,
    OutboxEvent,
    create_event_tables,
    drop_event_tables,
    events_metadata,
)
from boxoffice.core.events.wiring import EventWiring, events_wiring

__all__ = [
    "DeadLetter",
    "Event",
    "EventBus",
    "EventHandlers",
    "EventPayload",
    "EventReader",
    "EventRecorder",
    "EventWiring",
    "Handler",
    "InboxEvent",
    "IncomingEvent",
    "MalformedEvent",
    "OutboxEvent",
    "Outcome",
    "create_event_tables",
    "drop_event_tables",
    "events_metadata",
    "events_wiring",
    "read_event",
    "record_event",
]
