"""The movie catalog: movies, theaters, seats, showtimes and the booking ledger.

Revision ID: 0001
Revises: 
Create Date: 2026-11-25 11:11:42.309958
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import boxoffice.core.db
from boxoffice.core.events.tables import create_event_tables, drop_event_tables

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('movies',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('title', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('duration_minutes', sa.Integer(), nullable=False),
    sa.Column('genre', sa.String(length=100), nullable=True),
    sa.Column('language', sa.String(length=50), nullable=True),
    sa.Column('rating', sa.String(length=10), nullable=True),
    sa.Column('release_date', sa.Date(), nullable=True),
    sa.Column('poster_url', sa.String(length=500), nullable=True),
    sa.Column('director', sa.String(length=255), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', boxoffice.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', boxoffice.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('duration_minutes > 0', name=op.f('ck_movies_duration_positive')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_movies'))
    )
    with op.batch_alter_table('movies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_movies_is_active'), ['is_active'], unique=False)

    op.create_table('showtime_bookings',
    sa.Column('booking_id', sa.Uuid(), nullable=False),
    sa.Column('showtime_id', sa.Uuid(), nullable=False),
    sa.Column('seats', sa.Integer(), nullable=False),
    sa.Column('released', sa.Boolean(), nullable=False),
    sa.Column('updated_at', boxoffice.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('booking_id', name=op.f('pk_showtime_bookings'))
    )
    with op.batch_alter_table('showtime_bookings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_showtime_bookings_showtime_id'), ['showtime_id'], unique=False)

    op.create_table('theaters',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('location', sa.String(length=500), nullable=False),
    sa.Column('city', sa.String(length=100), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('seats_per_row', sa.Integer(), nullable=False),
    sa.Column('vip_rows', sa.JSON(), nullable=False),
    sa.Column('aisles_after', sa.JSON(), nullable=False),
    sa.Column('total_seats', sa.Integer(), nullable=False),
    sa.Column('created_at', boxoffice.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_theaters'))
    )
    with op.batch_alter_table('theaters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_theaters_city'), ['city'], unique=False)

    op.create_table('seats',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('theater_id', sa.Uuid(), nullable=False),
    sa.Column('seat_row', sa.String(length=2), nullable=False),
    sa.Column('seat_number', sa.Integer(), nullable=False),
    sa.Column('seat_type', sa.String(length=20), nullable=False),
    sa.Column('aisle_after', sa.Boolean(), nullable=False),
    sa.CheckConstraint("seat_type IN ('standard', 'vip')", name=op.f('ck_seats_seat_type')),
    sa.ForeignKeyConstraint(['theater_id'], ['theaters.id'], name=op.f('fk_seats_theater_id_theaters'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_seats')),
    sa.UniqueConstraint('theater_id', 'seat_row', 'seat_number', name=op.f('uq_seats_theater_id_seat_row_seat_number'))
    )
    op.create_table('showtimes',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('movie_id', sa.Uuid(), nullable=False),
    sa.Column('theater_id', sa.Uuid(), nullable=False),
    sa.Column('show_date', sa.Date(), nullable=False),
    sa.Column('show_time', sa.Time(), nullable=False),
    sa.Column('price', boxoffice.core.db.Money(precision=12, scale=2), nullable=False),
    sa.Column('total_seats', sa.Integer(), nullable=False),
    sa.Column('available_seats', sa.Integer(), nullable=False),
    sa.Column('enforce_seat_rules', sa.Boolean(), nullable=False),
    sa.Column('created_at', boxoffice.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('price > 0', name=op.f('ck_showtimes_price_positive')),
    sa.ForeignKeyConstraint(['movie_id'], ['movies.id'], name=op.f('fk_showtimes_movie_id_movies')),
    sa.ForeignKeyConstraint(['theater_id'], ['theaters.id'], name=op.f('fk_showtimes_theater_id_theaters')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_showtimes')),
    sa.UniqueConstraint('theater_id', 'show_date', 'show_time', name=op.f('uq_showtimes_theater_id_show_date_show_time'))
    )
    with op.batch_alter_table('showtimes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_showtimes_movie_id'), ['movie_id'], unique=False)
        batch_op.create_index('ix_showtimes_show_date_show_time', ['show_date', 'show_time'], unique=False)

    create_event_tables()


def downgrade() -> None:
    drop_event_tables()
    with op.batch_alter_table('showtimes', schema=None) as batch_op:
        batch_op.drop_index('ix_showtimes_show_date_show_time')
        batch_op.drop_index(batch_op.f('ix_showtimes_movie_id'))

    op.drop_table('showtimes')
    op.drop_table('seats')
    with op.batch_alter_table('theaters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_theaters_city'))

    op.drop_table('theaters')
    with op.batch_alter_table('showtime_bookings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_showtime_bookings_showtime_id'))

    op.drop_table('showtime_bookings')
    with op.batch_alter_table('movies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_movies_is_active'))

    op.drop_table('movies')
