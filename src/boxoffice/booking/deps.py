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
from boxoffice.core.auth import CurrentUser


async def _service(session: DbSession, ctx: Context) -> BookingService:
    return BookingService.from_context(ctx, session)


Service = Annotated[BookingService, Depends(_service)]


async def _booking_by_id(booking_id: uuid.UUID, user: CurrentUser, service: Service) -> Booking:
    """The booking with its seats; 404 when there is none, or when it is neither the caller's
    nor the caller staff (a stranger cannot even learn that the id exists)."""
    booking = await service.get(booking_id)
    if not user.may_act_for(booking.user_id):
        raise BookingNotFound(f"Booking {booking_id} not found")
    return booking


BookingById = Annotated[Booking, Depends(_booking_by_id)]
