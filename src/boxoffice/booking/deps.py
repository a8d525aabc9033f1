"""The booking service's FastAPI dependencies: the service for the request, and a booking by
its path id (the one place that decides who may see a booking: its owner, or staff)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends

from boxoffice.booking.errors import BookingNotFound
from boxoffice.booking.models import Booking
from boxoffice.booking.service import BookingService
from boxoffice.core.app import Context, DbSession
from boxoffice.core.auth import CurrentUser, Principal


async def _service(session: DbSession, ctx: Context) -> BookingService:
    return BookingService.from_context(ctx, session)


Service = Annotated[BookingService, Depends(_service)]


def _visible(booking: Booking, user: Principal) -> Booking:
    """The booking, if the caller may see it: their own, or any for staff. Otherwise 404, so
    a stranger cannot even learn that the id exists."""
    if not user.may_act_for(booking.user_id):
        raise BookingNotFound(f"Booking {booking.id} not found")
    return booking


async def _booking_by_id(booking_id: uuid.UUID, user: CurrentUser, service: Service) -> Booking:
    """The booking with its seats, in the request's session (to act on it)."""
    return _visible(await service.get(booking_id), user)


async def _booking_to_read(booking_id: uuid.UUID, user: CurrentUser, service: Service) -> Booking:
    """The booking with its seats, read outside the request's transaction (to show it)."""
    return _visible(await service.read(booking_id), user)


BookingById = Annotated[Booking, Depends(_booking_by_id)]
BookingToRead = Annotated[Booking, Depends(_booking_to_read)]
