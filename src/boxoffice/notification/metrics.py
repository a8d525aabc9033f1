"""The notification service's metric (one registry per process, like core's)."""

from prometheus_client import Counter

NOTIFICATIONS = Counter(
    "notifications_total",
    "Notifications by type and outcome (created, duplicate, sent, retried, failed)",
    ["type", "outcome"],
)
