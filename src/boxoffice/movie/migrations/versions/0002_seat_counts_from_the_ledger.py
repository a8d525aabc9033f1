"""A showtime's free seats are read from the booking ledger, not kept in a column.

Every booking event used to lock its showtime's row to recount it, so all bookings of a popular
showtime queued on that one row. The ledger (one row per booking) is the truth; the count is
its sum at read time.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 13:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('showtimes', schema=None) as batch_op:
        batch_op.drop_column('available_seats')


def downgrade() -> None:
    with op.batch_alter_table('showtimes', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('available_seats', sa.Integer(), nullable=False, server_default='0')
        )
    op.execute(
        "UPDATE showtimes SET available_seats = total_seats - COALESCE((SELECT SUM(seats) "
        "FROM showtime_bookings b WHERE b.showtime_id = showtimes.id AND NOT b.released), 0)"
    )
