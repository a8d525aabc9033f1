"""Dependencies of the notification routes: the service, and one of the caller's notices."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends

from boxoffice.core.app import Context, DbSession
from boxoffice.core.auth import CurrentUser
from boxoffice.notification.models import Notification
from boxoffice.notification.service import NotificationService


async def _service(ctx: Context, session: DbSession) -> NotificationService:
    return NotificationService.from_context(ctx, session)


Service = Annotated[NotificationService, Depends(_service)]
"""The notification service on the request's session (committed when the route returns)."""


async def _own_notification(
    notification_id: uuid.UUID, user: CurrentUser, service: Service
) -> Notification:
    return await service.own_notification(user, notification_id)


NotificationById = Annotated[Notification, Depends(_own_notification)]
"""The caller's own notice named by the path's `notification_id`: 401 without a token, 404
(NotificationNotFound) when there is none or it is someone else's (staff included)."""
