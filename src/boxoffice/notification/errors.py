"""What can go wrong in the notification service, named as facts."""

from __future__ import annotations

from boxoffice.core.errors import NotFound


class NotificationNotFound(NotFound):
    """No such notification among the caller's own."""

    default_detail = "Notification not found"
