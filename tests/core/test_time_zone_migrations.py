"""The time-zone migrations keep existing rows meaningful: theaters get the THEATER_TIMEZONE
setting's zone (the one all theaters were assumed to be in), and showtimes and bookings the
instant their local date and time is in it."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from boxoffice.core.db import Money, UTCDateTime
from boxoffice.core.migrations import migrate

NOW = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
DAY, CLOCK = dt.date(2026, 12, 24), dt.time(19, 30)
# 19:30 in Asia/Ho_Chi_Minh (UTC+7, the default setting).
STARTS = dt.datetime(2026, 12, 24, 12, 30, tzinfo=dt.UTC)


def _table(table_name: str, /, **columns: sa.types.TypeEngine) -> sa.TableClause:
    return sa.table(table_name, *(sa.column(k, v) for k, v in columns.items()))


THEATERS = _table(
    "theaters",
    id=sa.Uuid(),
    name=sa.String(),
    location=sa.String(),
    city=sa.String(),
    rows=sa.Integer(),
    seats_per_row=sa.Integer(),
    vip_rows=sa.JSON(),
    aisles_after=sa.JSON(),
    total_seats=sa.Integer(),
    created_at=UTCDateTime(),
    timezone=sa.String(),
)
MOVIES = _table(
    "movies",
    id=sa.Uuid(),
    title=sa.String(),
    duration_minutes=sa.Integer(),
    is_active=sa.Boolean(),
    created_at=UTCDateTime(),
    updated_at=UTCDateTime(),
)
SHOWTIMES = _table(
    "showtimes",
    id=sa.Uuid(),
    movie_id=sa.Uuid(),
    theater_id=sa.Uuid(),
    show_date=sa.Date(),
    show_time=sa.Time(),
    price=Money(),
    total_seats=sa.Integer(),
    enforce_seat_rules=sa.Boolean(),
    created_at=UTCDateTime(),
    starts_at=UTCDateTime(),
)
BOOKINGS = _table(
    "bookings",
    id=sa.Uuid(),
    user_id=sa.Uuid(),
    user_email=sa.String(),
    showtime_id=sa.Uuid(),
    booking_code=sa.String(),
    total_seats=sa.Integer(),
    total_price=Money(),
    status=sa.String(),
    payment_status=sa.String(),
    expires_at=UTCDateTime(),
    movie_title=sa.String(),
    theater_id=sa.Uuid(),
    theater_name=sa.String(),
    show_date=sa.Date(),
    show_time=sa.Time(),
    created_at=UTCDateTime(),
    updated_at=UTCDateTime(),
    show_starts_at=UTCDateTime(),
)

BOOKING_SEATS = _table(
    "booking_seats",
    id=sa.Uuid(),
    booking_id=sa.Uuid(),
    showtime_id=sa.Uuid(),
    seat_id=sa.Uuid(),
    status=sa.String(),
    position=sa.Integer(),
    seat_row=sa.String(),
    seat_number=sa.Integer(),
    seat_type=sa.String(),
    price=Money(),
)


async def _insert(url: str, *rows: tuple[sa.TableClause, dict]) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        for table, values in rows:
            await conn.execute(table.insert().values(values))
    await engine.dispose()


async def _read(url: str, query: sa.Select) -> list[tuple]:
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    await engine.dispose()
    return [tuple(r) for r in rows]


async def test_theaters_and_showtimes_made_before_time_zones_get_the_settings_zone(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'movies'}.sqlite3"
    await migrate("boxoffice.movie", url, revision="0002")
    theater, movie, show = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await _insert(
        url,
        (
            THEATERS,
            dict(
                id=theater,
                name="Hall",
                location="1 Main St",
                city="Hanoi",
                rows=1,
                seats_per_row=1,
                vip_rows=[],
                aisles_after=[],
                total_seats=1,
                created_at=NOW,
            ),
        ),
        (
            MOVIES,
            dict(
                id=movie,
                title="Film",
                duration_minutes=90,
                is_active=True,
                created_at=NOW,
                updated_at=NOW,
            ),
        ),
        (
            SHOWTIMES,
            dict(
                id=show,
                movie_id=movie,
                theater_id=theater,
                show_date=DAY,
                show_time=CLOCK,
                price=Decimal("100000.00"),
                total_seats=1,
                enforce_seat_rules=False,
                created_at=NOW,
            ),
        ),
    )

    await migrate("boxoffice.movie", url)

    assert await _read(url, sa.select(THEATERS.c.timezone)) == [("Asia/Ho_Chi_Minh",)]
    assert await _read(url, sa.select(SHOWTIMES.c.starts_at)) == [(STARTS,)]


async def test_bookings_made_before_time_zones_know_when_their_show_starts(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'bookings'}.sqlite3"
    await migrate("boxoffice.booking", url, revision="0002")
    booking, showtime = uuid.uuid4(), uuid.uuid4()
    await _insert(
        url,
        (
            BOOKINGS,
            dict(
                id=booking,
                user_id=uuid.uuid4(),
                user_email="a@x.test",
                showtime_id=showtime,
                booking_code="BK2345678",
                total_seats=1,
                total_price=Decimal("100000.00"),
                status="confirmed",
                payment_status="paid",
                expires_at=NOW,
                movie_title="Film",
                theater_id=uuid.uuid4(),
                theater_name="Hall",
                show_date=DAY,
                show_time=CLOCK,
                created_at=NOW,
                updated_at=NOW,
            ),
        ),
        (
            BOOKING_SEATS,
            dict(
                id=uuid.uuid4(),
                booking_id=booking,
                showtime_id=showtime,
                seat_id=uuid.uuid4(),
                status="confirmed",
                position=0,
                seat_row="A",
                seat_number=1,
                seat_type="standard",
                price=Decimal("100000.00"),
            ),
        ),
    )

    await migrate("boxoffice.booking", url)

    assert await _read(url, sa.select(BOOKINGS.c.show_starts_at)) == [(STARTS,)]
