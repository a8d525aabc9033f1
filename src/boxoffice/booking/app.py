"""Wiring of the booking service."""

from boxoffice.booking.consumers import handlers
from boxoffice.booking.routes import router
from boxoffice.booking.sweeper import expiry_sweeper
from boxoffice.core.app import ServiceDefinition
from boxoffice.core.events import events_wiring

events = events_wiring(handlers)

SERVICE = ServiceDefinition(
    name="booking",
    package="boxoffice.booking",
    title="booking service",
    description="Seat holds, bookings and their lifecycle (pending, confirmed, cancelled, "
    "expired), and the seat status the movie service's seat map shows.",
    routers=[router],
    startup=[*events.startup],
    background=[*events.background, expiry_sweeper],
    shutdown=[*events.shutdown],
)
