"""Events backbone: transactional outbox, relay, idempotent consumers, dead letters.

The public surface every service uses (being built; see issue 3):

    from boxoffice.core.events import record_event, EventHandlers, IncomingEvent

    # producer: inside the request's transaction, beside the state change it announces
    record_event(session, "booking.created", {"booking_id": ...}, aggregate_id=str(booking.id))

    # consumer: a handler runs in the consumer's transaction together with an inbox row
    handlers = EventHandlers("notification")

    @handlers.on("booking.confirmed")
    async def on_confirmed(event: IncomingEvent, session: AsyncSession, ctx: ServiceContext): ...

    SERVICE = ServiceDefinition(..., startup=[...handlers.startup hooks...],
                                background=[...relay and consumer loops...])
"""
