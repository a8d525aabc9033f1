"""Wiring of the movie service."""

from boxoffice.core.app import ServiceDefinition

SERVICE = ServiceDefinition(
    name="movie",
    package="boxoffice.movie",
    title="movie service",
    description="The movie service.",
    routers=[],
)
