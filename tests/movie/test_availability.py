"""A showtime's available_seats follows the booking events, however they arrive."""

from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa

from boxoffice.core.events import Event, InboxEvent
from tests.movie.conftest import eventually, movie_context
from tests.movie.factories import create_movie, create_showtime, create_theater


def booking_event(name: str, booking_id: uuid.UUID, showtime: dict, seats: int) -> Event:
    """A booking event as the booking service publishes it (the fields movie reads, and more)."""
    return Event(
        id=uuid.uuid4(),
        name=name,
        source="booking",
        occurred_at=dt.datetime.now(dt.UTC),
        correlation_id=None,
        payload={
            "booking_id": str(booking_id),
            "booking_code": "BK" + booking_id.hex[:8].upper(),
            "showtime_id": showtime["id"],
            "total_seats": seats,
            "total_price": f"{seats * 100000}.00",
            "status": name.split(".")[1],
        },
        aggregate_id=str(booking_id),
    )


async def publish_and_wait(api, events: list[Event]) -> None:
    """Publish on the real bus and wait until the movie service has handled every event."""
    await api.runtime.bus.publish(events)
    ids = {e.id for e in events}
    ctx = movie_context(api)

    async def all_handled() -> bool:
        async with ctx.db.sessionmaker() as session:
            seen = await session.scalars(
                sa.select(InboxEvent.event_id).where(InboxEvent.event_id.in_(ids))
            )
            return set(seen) == ids

    await eventually(all_handled)


async def available_seats(api, showtime: dict) -> int:
    response = await api.get(f"/api/movies/showtimes/{showtime['id']}")
    return int(response.json()["available_seats"])


async def _showtime(api, admin, seats_per_row: int = 10) -> dict:
    movie = await create_movie(api, admin)
    hall = await create_theater(api, admin, rows=4, seats_per_row=seats_per_row)
    return await create_showtime(api, admin, movie, hall)


async def test_repeated_and_reordered_booking_events_leave_the_right_count(api, admin):
    showtime = await _showtime(api, admin)  # 40 seats
    assert await available_seats(api, showtime) == 40  # cached now: the events must clear it
    first, second, third = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    created = booking_event("booking.created", first, showtime, 3)
    await publish_and_wait(
        api,
        [
            created,
            # The same fact again under a new event id (a producer retry).
            booking_event("booking.created", first, showtime, 3),
            # A cancellation overtaking its own booking's creation.
            booking_event("booking.cancelled", second, showtime, 2),
            booking_event("booking.created", third, showtime, 5),
        ],
    )
    await publish_and_wait(api, [booking_event("booking.created", second, showtime, 2)])
    assert await available_seats(api, showtime) == 32  # 40 − 3 − 5; the second never counts

    # The very same event delivered again changes nothing.
    await api.runtime.bus.publish([created])
    await publish_and_wait(api, [booking_event("booking.expired", first, showtime, 3)])
    assert await available_seats(api, showtime) == 35
    await publish_and_wait(api, [booking_event("booking.cancelled", third, showtime, 5)])
    assert await available_seats(api, showtime) == 40


async def test_many_bookings_at_once_each_take_their_seats(api, admin):
    showtime = await _showtime(api, admin, seats_per_row=20)  # 80 seats
    events = [booking_event("booking.created", uuid.uuid4(), showtime, 2) for _ in range(25)]
    await publish_and_wait(api, events)
    assert await available_seats(api, showtime) == 30
