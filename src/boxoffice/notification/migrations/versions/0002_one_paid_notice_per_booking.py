"""One purchase notice per booking, kept by a partial unique index instead of a lock.

The two events of a sale (`payment.completed`, `booking.confirmed`) used to take turns on an
advisory lock, look for the booking's notice and then insert or update it: three statements per
event. With this index the insert itself decides, in one statement (see
NotificationRepository.write_paid_notice). The lock kept the notices one per booking, so
existing data already satisfies the index.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 18:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As in models.PAID_NOTICE, written out: a migration must not change when the models do.
_PAID_NOTICE = "type IN ('payment.completed', 'booking.confirmed') AND event_id IS NOT NULL"


def upgrade() -> None:
    op.create_index(
        'uq_notifications_paid_notice_booking_id',
        'notifications',
        ['booking_id'],
        unique=True,
        postgresql_where=sa.text(_PAID_NOTICE),
        sqlite_where=sa.text(_PAID_NOTICE),
    )


def downgrade() -> None:
    op.drop_index('uq_notifications_paid_notice_booking_id', table_name='notifications')
