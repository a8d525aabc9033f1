"""Bookings and their seats (with the live-seat unique index), the outbox and inbox.

Revision ID: 0001
Revises: 
Create Date: 2026-11-25 11:28:35.145438
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
    op.create_table('bookings',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('user_email', sa.String(length=320), nullable=False),
    sa.Column('showtime_id', sa.Uuid(), nullable=False),
    sa.Column('booking_code', sa.String(length=20), nullable=False),
    sa.Column('total_seats', sa.Integer(), nullable=False),
    sa.Column('total_price', boxoffice.core.db.Money(precision=12, scale=2), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('payment_status', sa.String(length=20), nullable=False),
    sa.Column('expires_at', boxoffice.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('movie_id', sa.Uuid(), nullable=True),
    sa.Column('movie_title', sa.String(length=255), nullable=False),
    sa.Column('theater_id', sa.Uuid(), nullable=False),
    sa.Column('theater_name', sa.String(length=255), nullable=False),
    sa.Column('city', sa.String(length=100), nullable=True),
    sa.Column('show_date', sa.Date(), nullable=False),
    sa.Column('show_time', sa.Time(), nullable=False),
    sa.Column('payment_id', sa.Uuid(), nullable=True),
    sa.Column('confirmed_at', boxoffice.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', boxoffice.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('checked_in_at', boxoffice.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', boxoffice.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', boxoffice.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("payment_status IN ('unpaid', 'paid', 'refunded')", name=op.f('ck_bookings_payment_status')),
    sa.CheckConstraint("status IN ('pending', 'confirmed', 'cancelled', 'expired')", name=op.f('ck_bookings_status')),
    sa.CheckConstraint('total_seats > 0', name=op.f('ck_bookings_total_seats_positive')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bookings')),
    sa.UniqueConstraint('booking_code', name=op.f('uq_bookings_booking_code'))
    )
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bookings_showtime_id'), ['showtime_id'], unique=False)
        batch_op.create_index('ix_bookings_status_expires_at', ['status', 'expires_at'], unique=False)
        batch_op.create_index('ix_bookings_user_id_created_at', ['user_id', 'created_at'], unique=False)

    op.create_table('booking_seats',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('booking_id', sa.Uuid(), nullable=False),
    sa.Column('showtime_id', sa.Uuid(), nullable=False),
    sa.Column('seat_id', sa.Uuid(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('seat_row', sa.String(length=4), nullable=False),
    sa.Column('seat_number', sa.Integer(), nullable=False),
    sa.Column('seat_type', sa.String(length=20), nullable=False),
    sa.Column('price', boxoffice.core.db.Money(precision=12, scale=2), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'confirmed', 'cancelled', 'expired')", name=op.f('ck_booking_seats_status')),
    sa.ForeignKeyConstraint(['booking_id'], ['bookings.id'], name=op.f('fk_booking_seats_booking_id_bookings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_booking_seats'))
    )
    with op.batch_alter_table('booking_seats', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_booking_seats_booking_id'), ['booking_id'], unique=False)
        batch_op.create_index('uq_booking_seats_live_seat', ['showtime_id', 'seat_id'], unique=True, postgresql_where=sa.text("status IN ('pending', 'confirmed')"), sqlite_where=sa.text("status IN ('pending', 'confirmed')"))

    create_event_tables()


def downgrade() -> None:
    drop_event_tables()
    with op.batch_alter_table('booking_seats', schema=None) as batch_op:
        batch_op.drop_index('uq_booking_seats_live_seat', postgresql_where=sa.text("status IN ('pending', 'confirmed')"), sqlite_where=sa.text("status IN ('pending', 'confirmed')"))
        batch_op.drop_index(batch_op.f('ix_booking_seats_booking_id'))

    op.drop_table('booking_seats')
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.drop_index('ix_bookings_user_id_created_at')
        batch_op.drop_index('ix_bookings_status_expires_at')
        batch_op.drop_index(batch_op.f('ix_bookings_showtime_id'))

    op.drop_table('bookings')
