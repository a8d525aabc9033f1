"""Bookings remember when a customer's refund was let through (the ticket is then unusable).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 10:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import boxoffice.core.db

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        'bookings',
        sa.Column(
            'refund_approved_at', boxoffice.core.db.UTCDateTime(timezone=True), nullable=True
        ),
    )


def downgrade() -> None:
    with op.batch_alter_table('bookings') as batch_op:
        batch_op.drop_column('refund_approved_at')
