"""Notification routes (design 4.5): a user's own notices, and `/send` for admins."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from boxoffice.core.auth import AdminUser, CurrentUser
from boxoffice.core.errors import NotAuthenticated, PermissionDenied, responses
from boxoffice.core.pagination import Limit, Offset
from boxoffice.notification.deps import NotificationById, Service
from boxoffice.notification.errors import NotificationNotFound
from boxoffice.notification.models import Notification
from boxoffice.notification.schemas import MarkedRead, NotificationOut, SendRequest, UnreadCount

router = APIRouter(tags=["notifications"])


UNREAD_HEADER = "X-Unread-Count"


@router.post(
    "/send",
    status_code=201,
    response_model=NotificationOut,
    responses=responses(NotAuthenticated, PermissionDenied),
)
async def send(body: SendRequest, service: Service, _: AdminUser) -> Notification:
    """Send a notice to a user directly (admins and internal callers); e-mailed if `email`."""
    return await service.send(body)


@router.get(
    "/notifications",
    response_model=list[NotificationOut],
    responses={
        **responses(NotAuthenticated),
        200: {
            "description": "The caller's notices, newest first",
            "headers": {
                UNREAD_HEADER: {
                    "description": "How many of the caller's notices are unread",
                    "schema": {"type": "integer"},
                }
            },
        },
    },
)
async def list_notifications(
    service: Service,
    user: CurrentUser,
    response: Response,
    limit: Limit = 50,
    offset: Offset = 0,
    unread: Annotated[bool, Query(description="Only the unread ones")] = False,
) -> list[Notification]:
    """The caller's own notices, newest first; the unread count is in `X-Unread-Count`."""
    items, unread_count = await service.list_for(
        user, limit=limit, offset=offset, unread_only=unread
    )
    response.headers[UNREAD_HEADER] = str(unread_count)
    return list(items)


@router.get(
    "/notifications/unread-count",
    response_model=UnreadCount,
    responses=responses(NotAuthenticated),
)
async def unread_count(service: Service, user: CurrentUser) -> UnreadCount:
    """How many of the caller's notices are unread (for a badge)."""
    return UnreadCount(unread=await service.unread_count(user))


@router.post(
    "/notifications/read-all",
    response_model=MarkedRead,
    responses=responses(NotAuthenticated),
)
async def mark_all_read(service: Service, user: CurrentUser) -> MarkedRead:
    """Mark every one of the caller's notices read."""
    return MarkedRead(marked=await service.mark_all_read(user))


@router.post(
    "/notifications/{notification_id}/read",
    response_model=NotificationOut,
    responses=responses(NotAuthenticated, NotificationNotFound),
)
async def mark_read(notification: NotificationById, service: Service) -> Notification:
    """Mark one of the caller's notices read (again is fine; someone else's is a 404)."""
    return await service.mark_read(notification)
