"""The payment service's own metrics (the shared request metrics are core.observability's)."""

from prometheus_client import Counter

PAYMENTS = Counter("payments_total", "Total payment attempts", ["outcome"])
