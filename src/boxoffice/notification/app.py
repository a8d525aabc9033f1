"""Wiring of the notification service: routes, event consumers and the e-mail delivery loop."""

from boxoffice.core.app import ServiceDefinition
from boxoffice.core.events import events_wiring
from boxoffice.notification.consumers import handlers
from boxoffice.notification.delivery import delivery_loop
from boxoffice.notification.routes import router

events = events_wiring(handlers)

SERVICE = ServiceDefinition(
    name="notification",
    package="boxoffice.notification",
    title="notification service",
    description="In-app notifications and e-mail (with the e-ticket) for every booking event.",
    routers=[router],
    startup=[*events.startup],
    background=[*events.background, delivery_loop],
    shutdown=[*events.shutdown],
)
