"""Booking routes (stub: the seat-status contract of docs/contracts.md, with no holds yet)."""

import uuid
from typing import Any

from fastapi import APIRouter

router = APIRouter()


@router.get("/showtimes/{showtime_id}/seat-status")
async def seat_status(showtime_id: uuid.UUID) -> dict[str, Any]:
    """Seats of a showtime that are not free: held, booked, or the caller's own hold."""
    return {"showtime_id": str(showtime_id), "seats": {}}
