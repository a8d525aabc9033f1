"""The live seat map of a showtime: the theater's seats with what the booking service says."""

from __future__ import annotations

import uuid
from typing import Any, cast

from pydantic import TypeAdapter

from boxoffice.core.errors import NotAuthenticated
from boxoffice.core.http import ServiceClient
from boxoffice.movie.errors import SeatStatusUnavailable
from boxoffice.movie.schemas import (
    AvailableSeats,
    SeatOut,
    SeatStatus,
    SeatWithStatus,
    ShowtimeOut,
)
from boxoffice.movie.service import MovieCatalog

_SEATS = TypeAdapter(list[SeatOut])
_TAKEN = ("held", "booked", "mine")


async def seat_states(
    booking: ServiceClient, showtime_id: uuid.UUID, authorization: str | None
) -> dict[str, str]:
    """Booking's view of the seats that are not free: {seat_id: held|booked|mine}."""
    # The caller's token lets booking tell the caller's own holds ("mine") from others'.
    headers = {"Authorization": authorization} if authorization else {}
    response = await booking.get(f"/showtimes/{showtime_id}/seat-status", headers=headers)
    if response.status_code == 401:
        raise NotAuthenticated(_detail(response) or "Token not accepted by the booking service")
    if response.status_code != 200:
        raise SeatStatusUnavailable(
            f"Booking service answered {response.status_code} for the seat status"
        )
    try:
        seats = response.json()["seats"]
        return {str(seat_id): str(state) for seat_id, state in seats.items()}
    except (ValueError, KeyError, TypeError, AttributeError):
        raise SeatStatusUnavailable("Booking service sent an unreadable seat status")


def _detail(response: Any) -> str | None:
    try:
        return str(response.json()["detail"])
    except (ValueError, KeyError, TypeError):
        return None


async def available_seats(
    catalog: MovieCatalog,
    booking: ServiceClient,
    showtime_id: uuid.UUID,
    authorization: str | None,
) -> AvailableSeats:
    """Every seat of the showtime's theater with its status; never cached (holds change fast)."""
    # The showtime and the layout are catalog data (cached); only the states are live.
    showtime = ShowtimeOut.model_validate_json(await catalog.showtime(showtime_id))
    seats = _SEATS.validate_json(await catalog.seats(showtime.theater_id))
    states = await seat_states(booking, showtime_id, authorization)
    marked = [
        SeatWithStatus(**seat.model_dump(), status=_status(states.get(str(seat.id))))
        for seat in seats
    ]
    return AvailableSeats(
        showtime_id=showtime.id,
        total_seats=showtime.total_seats,
        available_count=sum(1 for s in marked if s.status == "available"),
        seats=marked,
    )


def _status(state: str | None) -> SeatStatus:
    """Booking omits free seats; a state this version does not know still means "not free"."""
    if state is None:
        return "available"
    return cast(SeatStatus, state) if state in _TAKEN else "held"
