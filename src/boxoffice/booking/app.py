"""Wiring of the booking service."""

from boxoffice.booking.routes import router
from boxoffice.core.app import ServiceDefinition

SERVICE = ServiceDefinition(
    name="booking",
    package="boxoffice.booking",
    title="booking service",
    description="Seat holds, bookings and their lifecycle.",
    routers=[router],
)
