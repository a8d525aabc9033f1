"""Theaters have a time zone, and showtimes the instant they start in it.

A showtime's date and time are the theater's wall clock; `starts_at` is that instant in UTC, so
"has it started?" is one indexed comparison. Existing theaters get the THEATER_TIMEZONE setting
(the zone every theater was assumed to be in until now), and existing showtimes their instant
in it.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 21:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import boxoffice.core.db
from boxoffice.core.localtime import starts_at
from boxoffice.movie.settings import MovieSettings

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_theaters = sa.table('theaters', sa.column('id', sa.Uuid()), sa.column('timezone', sa.String()))
_showtimes = sa.table(
    'showtimes',
    sa.column('id', sa.Uuid()),
    sa.column('theater_id', sa.Uuid()),
    sa.column('show_date', sa.Date()),
    sa.column('show_time', sa.Time()),
    sa.column('starts_at', boxoffice.core.db.UTCDateTime(timezone=True)),
)


def upgrade() -> None:
    zone = MovieSettings().theater_timezone
    # Added in place (no batch copy): on SQLite a copy would drop `theaters`, which seats and
    # showtimes refer to. The default fills existing rows; the service always sets the zone.
    op.add_column(
        'theaters',
        sa.Column('timezone', sa.String(length=64), nullable=False, server_default=zone),
    )
    if op.get_bind().dialect.name != 'sqlite':  # SQLite cannot drop a default in place
        op.alter_column('theaters', 'timezone', server_default=None)
    op.add_column(
        'showtimes',
        sa.Column('starts_at', boxoffice.core.db.UTCDateTime(timezone=True), nullable=True),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(
            _showtimes.c.id, _showtimes.c.show_date, _showtimes.c.show_time, _theaters.c.timezone
        ).join(_theaters, _theaters.c.id == _showtimes.c.theater_id)
    ).all()
    for showtime_id, day, clock, time_zone in rows:
        bind.execute(
            _showtimes.update()
            .where(_showtimes.c.id == showtime_id)
            .values(starts_at=starts_at(day, clock, time_zone))
        )
    # No table refers to showtimes, so SQLite's batch copy of it is safe (as in 0002).
    with op.batch_alter_table('showtimes', schema=None) as batch_op:
        batch_op.alter_column(
            'starts_at',
            existing_type=boxoffice.core.db.UTCDateTime(timezone=True),
            nullable=False,
        )
        batch_op.create_index(batch_op.f('ix_showtimes_starts_at'), ['starts_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('showtimes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_showtimes_starts_at'))
        batch_op.drop_column('starts_at')
    with op.batch_alter_table('theaters', schema=None) as batch_op:
        batch_op.drop_column('timezone')
