"""Theaters and showtimes can be deactivated (issue 12: the admin's catalog).

Both get `is_active`, true for every existing row. Added in place (no batch copy): on SQLite a
copy of `theaters` would drop the table that seats and showtimes refer to.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 02:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ('theaters', 'showtimes'):
        op.add_column(
            table,
            sa.Column('is_active', sa.Boolean(), nullable=False, server_default=sa.true()),
        )


def downgrade() -> None:
    for table in ('showtimes', 'theaters'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('is_active')
