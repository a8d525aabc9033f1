"""The booking service's own metrics (the shared request metrics are core.observability's)."""

from prometheus_client import Counter

BOOKINGS = Counter("bookings_total", "Total booking attempts", ["outcome"])
