"""Wiring of the notification service."""

from boxoffice.core.app import ServiceDefinition

SERVICE = ServiceDefinition(
    name="notification",
    package="boxoffice.notification",
    title="notification service",
    description="In-app notifications and e-mail.",
    routers=[],
)
