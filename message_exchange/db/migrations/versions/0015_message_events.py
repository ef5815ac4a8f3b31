"""Each status change of a message is kept (message_events): its history.

Revision ID: 0015_message_events
Revises: 0014_message_options
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from message_exchange.db.base import UTCDateTime

revision = "0015_message_events"
down_revision = "0014_message_options"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "message_events",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("message_sid", sa.String(34), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("carrier", sa.String(64), nullable=True),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_sid"],
            ["messages.sid"],
            name=op.f("fk_message_events_message_sid_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_events")),
    )
    op.create_index("ix_message_events_message_sid_occurred_at", "message_events", ["message_sid", "occurred_at"])


def downgrade() -> None:
    op.drop_index("ix_message_events_message_sid_occurred_at", table_name="message_events")
    op.drop_table("message_events")
