"""incoming phone numbers

Revision ID: 0003_numbers
Revises: 0002_jobs
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from message_exchange.db.base import UTCDateTime

revision = "0003_numbers"
down_revision = "0002_jobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incoming_phone_numbers",
        sa.Column("sid", sa.String(34), nullable=False),
        sa.Column("account_sid", sa.String(34), nullable=False),
        sa.Column("phone_number", sa.String(16), nullable=False),
        sa.Column("friendly_name", sa.String(64), nullable=False),
        sa.Column("sms_url", sa.Text(), nullable=True),
        sa.Column("sms_method", sa.String(4), nullable=False),
        sa.Column("sms_fallback_url", sa.Text(), nullable=True),
        sa.Column("sms_fallback_method", sa.String(4), nullable=False),
        sa.Column("status_callback", sa.Text(), nullable=True),
        sa.Column("status_callback_method", sa.String(4), nullable=False),
        sa.Column("sms_capable", sa.Boolean(), nullable=False),
        sa.Column("mms_capable", sa.Boolean(), nullable=False),
        sa.Column("date_created", UTCDateTime(), nullable=False),
        sa.Column("date_updated", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_sid"], ["accounts.sid"], name=op.f("fk_incoming_phone_numbers_account_sid_accounts")
        ),
        sa.PrimaryKeyConstraint("sid", name=op.f("pk_incoming_phone_numbers")),
        # System-wide: inbound routing finds the owner by the number alone.
        sa.UniqueConstraint("phone_number", name=op.f("uq_incoming_phone_numbers_phone_number")),
    )
    op.create_index(
        op.f("ix_incoming_phone_numbers_account_sid_date_created"),
        "incoming_phone_numbers",
        ["account_sid", "date_created"],
    )
    op.create_index(
        op.f("ix_incoming_phone_numbers_account_sid_friendly_name"),
        "incoming_phone_numbers",
        ["account_sid", "friendly_name"],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_incoming_phone_numbers_account_sid_friendly_name"), table_name="incoming_phone_numbers")
    op.drop_index(op.f("ix_incoming_phone_numbers_account_sid_date_created"), table_name="incoming_phone_numbers")
    op.drop_table("incoming_phone_numbers")
