"""A theater's seats, laid out from its rows, row lengths, VIP rows and aisles."""

from __future__ import annotations

import uuid

from boxoffice.movie.models import Seat, Theater
from boxoffice.movie.schemas import ROW_LETTERS, row_lengths


def layout_seats(theater: Theater) -> list[Seat]:
    """The seats of a theater's layout: rows A.., numbers from 1, VIP rows and aisles marked.

    Seat ids derive from the theater's id and the seat's label, so re-creating a layout (the
    demo catalog at every start) names the same seats.
    """
    seats = []
    lengths = row_lengths(theater.rows, theater.seats_per_row, theater.total_seats)
    for row, length in zip(ROW_LETTERS, lengths, strict=False):
        for number in range(1, length + 1):
            seats.append(
                Seat(
                    id=uuid.uuid5(theater.id, f"{row}{number}"),
                    theater_id=theater.id,
                    seat_row=row,
                    seat_number=number,
                    seat_type="vip" if row in theater.vip_rows else "standard",
                    aisle_after=number in theater.aisles_after,
                )
            )
    return seats
