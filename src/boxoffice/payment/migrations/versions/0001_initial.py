"""payments (one charge per booking, idempotency per user), event outbox and inbox

Revision ID: 0001
Revises:
Create Date: 2025-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import boxoffice.core.db
from boxoffice.core.events.tables import create_event_tables, drop_event_tables

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHARGED = "status IN ('pending', 'completed', 'refunding', 'refunded')"


def upgrade() -> None:
    op.create_table(
        "payments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("booking_id", sa.Uuid(), nullable=False),
        sa.Column("booking_code", sa.String(length=40), nullable=True),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("user_email", sa.String(length=320), nullable=False),
        sa.Column("amount", boxoffice.core.db.Money(), nullable=False),
        sa.Column("payment_method", sa.String(length=50), nullable=False),
        sa.Column("transaction_id", sa.String(length=255), nullable=True),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("request_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("failure_reason", sa.String(length=50), nullable=True),
        sa.Column("refund_reason", sa.String(length=50), nullable=True),
        sa.Column("refund_transaction_id", sa.String(length=255), nullable=True),
        sa.Column("created_at", boxoffice.core.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", boxoffice.core.db.UTCDateTime(), nullable=False),
        sa.Column("payment_date", boxoffice.core.db.UTCDateTime(), nullable=True),
        sa.Column("refunded_at", boxoffice.core.db.UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'completed', 'failed', 'refunding', 'refunded')",
            name=op.f("ck_payments_status"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payments_amount_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint("transaction_id", name=op.f("uq_payments_transaction_id")),
        sa.UniqueConstraint(
            "user_id", "idempotency_key", name="uq_payments_user_idempotency_key"
        ),
    )
    op.create_index(
        "uq_payments_one_charge_per_booking",
        "payments",
        ["booking_id"],
        unique=True,
        postgresql_where=sa.text(CHARGED),
        sqlite_where=sa.text(CHARGED),
    )
    op.create_index("ix_payments_user_created", "payments", ["user_id", "created_at"])
    op.create_index("ix_payments_status_updated", "payments", ["status", "updated_at"])
    create_event_tables()


def downgrade() -> None:
    drop_event_tables()
    op.drop_index("ix_payments_status_updated", table_name="payments")
    op.drop_index("ix_payments_user_created", table_name="payments")
    op.drop_index("uq_payments_one_charge_per_booking", table_name="payments")
    op.drop_table("payments")
