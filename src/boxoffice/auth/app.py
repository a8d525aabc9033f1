"""Wiring of the auth service."""

from boxoffice.core.app import ServiceDefinition

SERVICE = ServiceDefinition(
    name="auth",
    package="boxoffice.auth",
    title="auth service",
    description="The auth service.",
    routers=[],
)
