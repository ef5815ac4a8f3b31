"""messages

Revision ID: 0005_messages
Revises: 0004_webhooks
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from message_exchange.db.base import UTCDateTime

revision = "0005_messages"
down_revision = "0004_webhooks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "messages",
        sa.Column("sid", sa.String(34), nullable=False),
        sa.Column("account_sid", sa.String(34), nullable=False),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("from_address", sa.String(32), nullable=False),
        sa.Column("to_address", sa.String(32), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("media", sa.JSON(), nullable=False),
        sa.Column("num_segments", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("price", sa.String(16), nullable=True),
        sa.Column("price_unit", sa.String(3), nullable=False),
        sa.Column("status_callback", sa.Text(), nullable=True),
        sa.Column("status_callback_method", sa.String(4), nullable=False),
        sa.Column("api_version", sa.String(10), nullable=False),
        sa.Column("created_via", sa.String(16), nullable=False),
        sa.Column("carrier", sa.String(64), nullable=True),
        sa.Column("carrier_message_id", sa.String(128), nullable=True),
        sa.Column("date_created", UTCDateTime(), nullable=False),
        sa.Column("date_updated", UTCDateTime(), nullable=False),
        sa.Column("date_sent", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["account_sid"], ["accounts.sid"], name=op.f("fk_messages_account_sid_accounts")),
        sa.PrimaryKeyConstraint("sid", name=op.f("pk_messages")),
    )
    op.create_index("ix_messages_account_sid_date_created", "messages", ["account_sid", "date_created"])
    op.create_index("ix_messages_account_sid_status", "messages", ["account_sid", "status"])
    op.create_index("ix_messages_carrier_carrier_message_id", "messages", ["carrier", "carrier_message_id"])


def downgrade() -> None:
    op.drop_table("messages")
