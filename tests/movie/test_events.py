"""What the movie service publishes (docs/contracts.md) and how it reads booking events."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa

from boxoffice.core.events import Event, MalformedEvent, OutboxEvent
from boxoffice.movie.consumers import BookingSeats
from tests.movie.conftest import movie_context
from tests.movie.factories import create_movie, create_showtime, create_theater


async def recorded(api, aggregate_id: str) -> list[tuple[str, dict]]:
    """(name, payload) of the events movie recorded about one row, in order."""
    async with movie_context(api).db.sessionmaker() as session:
        rows = await session.execute(
            sa.select(OutboxEvent.name, OutboxEvent.payload)
            .where(OutboxEvent.aggregate_id == aggregate_id)
            .order_by(OutboxEvent.position)
        )
        return [(name, payload) for name, payload in rows.all()]


async def test_each_change_announces_the_id_it_changed_and_nothing_else(api, admin):
    movie = await create_movie(api, admin)
    theater = await create_theater(api, admin)
    show = await create_showtime(api, admin, movie, theater)
    # Creating announces nothing: nobody keeps what did not exist.
    for row in (movie, theater, show):
        assert await recorded(api, row["id"]) == []

    changes = (
        ("movies", movie, {"title": "Renamed"}, "movie.updated", "movie_id"),
        ("theaters", theater, {"name": "Renamed"}, "theater.updated", "theater_id"),
        ("showtimes", show, {"price": "99000"}, "showtime.updated", "showtime_id"),
    )
    for kind, row, body, name, key in changes:
        path = f"/api/movies/{kind}/{row['id']}"
        assert (await api.put(path, json=body, headers=admin)).status_code == 200
        assert (await api.delete(path, headers=admin)).status_code == 204
        assert await recorded(api, row["id"]) == [(name, {key: row["id"]})] * 2


def booking_event(payload: dict) -> Event:
    return Event(
        id=uuid.uuid4(),
        name="booking.created",
        source="booking",
        occurred_at=dt.datetime.now(dt.UTC),
        correlation_id=None,
        payload=payload,
    )


def test_a_booking_event_is_read_for_its_three_fields_only():
    booking_id, showtime_id = uuid.uuid4(), uuid.uuid4()
    fields = {"booking_id": str(booking_id), "showtime_id": str(showtime_id), "total_seats": 3}
    read = booking_event({**fields, "status": "pending", "total_price": "1.00"}).read(BookingSeats)
    assert read == BookingSeats(booking_id=booking_id, showtime_id=showtime_id, total_seats=3)
    for broken in (
        {k: v for k, v in fields.items() if k != "total_seats"},
        {**fields, "total_seats": -1},
        {**fields, "booking_id": "not-a-uuid"},
    ):
        with pytest.raises(MalformedEvent):
            booking_event(broken).read(BookingSeats)
