"""Bookings remember the instant their show starts (in its theater's time zone).

Existing bookings get their show's date and time read in the THEATER_TIMEZONE setting: the zone
every theater was assumed to be in until theaters had their own.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 21:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import boxoffice.core.db
from boxoffice.core.localtime import starts_at
from boxoffice.booking.settings import BookingSettings

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_bookings = sa.table(
    'bookings',
    sa.column('show_date', sa.Date()),
    sa.column('show_time', sa.Time()),
    sa.column('show_starts_at', boxoffice.core.db.UTCDateTime(timezone=True)),
)


def upgrade() -> None:
    op.add_column(
        'bookings',
        sa.Column('show_starts_at', boxoffice.core.db.UTCDateTime(timezone=True), nullable=True),
    )
    zone = BookingSettings().theater_timezone
    bind = op.get_bind()
    # One update per show time, not per booking: many bookings share a show.
    shows = bind.execute(
        sa.select(_bookings.c.show_date, _bookings.c.show_time).distinct()
    ).all()
    for day, clock in shows:
        bind.execute(
            _bookings.update()
            .where(_bookings.c.show_date == day, _bookings.c.show_time == clock)
            .values(show_starts_at=starts_at(day, clock, zone))
        )
    # Every row has it now. On SQLite the column stays nullable in the schema: making it
    # NOT NULL there means copying `bookings`, which booking_seats refers to.
    if bind.dialect.name != 'sqlite':
        op.alter_column(
            'bookings',
            'show_starts_at',
            existing_type=boxoffice.core.db.UTCDateTime(timezone=True),
            nullable=False,
        )


def downgrade() -> None:
    with op.batch_alter_table('bookings') as batch_op:
        batch_op.drop_column('show_starts_at')
