"""notifications, mail dead letters, booking details, event outbox and inbox

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


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=50), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("booking_id", sa.Uuid(), nullable=True),
        sa.Column("booking_code", sa.String(length=32), nullable=True),
        sa.Column("event_id", sa.Uuid(), nullable=True),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", boxoffice.core.db.UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("read_at", boxoffice.core.db.UTCDateTime(), nullable=True),
        sa.Column("created_at", boxoffice.core.db.UTCDateTime(), nullable=False),
        sa.Column("sent_at", boxoffice.core.db.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("event_id", name=op.f("uq_notifications_event_id")),
    )
    op.create_index(
        "ix_notifications_user_id_created_at", "notifications", ["user_id", "created_at"]
    )
    op.create_index(
        "ix_notifications_status_next_attempt_at", "notifications", ["status", "next_attempt_at"]
    )
    op.create_table(
        "mail_dead_letters",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("notification_id", sa.Uuid(), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("created_at", boxoffice.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            name=op.f("fk_mail_dead_letters_notification_id_notifications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_dead_letters")),
    )
    op.create_index(
        op.f("ix_mail_dead_letters_notification_id"), "mail_dead_letters", ["notification_id"]
    )
    op.create_table(
        "booking_details",
        sa.Column("booking_id", sa.Uuid(), nullable=False),
        sa.Column("booking_code", sa.String(length=32), nullable=True),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("updated_at", boxoffice.core.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("booking_id", name=op.f("pk_booking_details")),
    )
    create_event_tables()


def downgrade() -> None:
    drop_event_tables()
    op.drop_table("booking_details")
    op.drop_index(op.f("ix_mail_dead_letters_notification_id"), table_name="mail_dead_letters")
    op.drop_table("mail_dead_letters")
    op.drop_index("ix_notifications_status_next_attempt_at", table_name="notifications")
    op.drop_index("ix_notifications_user_id_created_at", table_name="notifications")
    op.drop_table("notifications")
