"""The five services as deployed: their names, databases, ports and gateway prefixes, and the
routes under the stricter booking rate limit. Facts of the composition, not of the mechanism:
core knows none of them (an import-linter contract keeps domain words out of it); the CLI, the
embedded process, the gateway, the deploy files' tests and `boxoffice.settings` read them here.
"""

from __future__ import annotations

from boxoffice.core.ratelimit import route_matcher

SERVICE_NAMES = ("auth", "movie", "booking", "payment", "notification")

# The design's database names, one per service.
DATABASE_NAMES = {
    "auth": "auth_db",
    "movie": "movies_db",
    "booking": "bookings_db",
    "payment": "payments_db",
    "notification": "notifications_db",
}

# Where each service listens in distributed mode (design 2.2) and its gateway prefix (SPEC 3).
SERVICE_PORTS = {
    "auth": 8001,
    "movie": 8002,
    "booking": 8003,
    "payment": 8004,
    "notification": 8005,
}
GATEWAY_PREFIXES = {
    "auth": "auth",
    "movie": "movies",
    "booking": "bookings",
    "payment": "payments",
    "notification": "notifications",
}

# (gateway prefix, service path regex) of the POST routes under the stricter booking limit
# (RATE_LIMIT_BOOKING) as well as the general one: core's rate limiter applies it in embedded
# mode, and the NGINX template renders its locations from this list too, one definition for both.
BOOKING_LIMITED_ROUTES: tuple[tuple[str, str], ...] = (
    ("bookings", "/book"),
    ("bookings", "/bookings/[^/]+/cancel"),
    ("payments", "/process"),
)

# Whether a request (method, path) falls under the booking limit as well as the general one.
is_booking_limited = route_matcher(BOOKING_LIMITED_ROUTES)
