"""inbound receipts and opt-outs

Revision ID: 0006_inbound
Revises: 0005_messages
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from message_exchange.db.base import UTCDateTime

revision = "0006_inbound"
down_revision = "0005_messages"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbound_receipts",
        sa.Column("carrier", sa.String(64), nullable=False),
        sa.Column("carrier_message_id", sa.String(128), nullable=False),
        sa.Column("message_sid", sa.String(34), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("carrier", "carrier_message_id", name=op.f("pk_inbound_receipts")),
    )
    op.create_table(
        "opt_outs",
        sa.Column("subscriber", sa.String(32), nullable=False),
        sa.Column("phone_number", sa.String(32), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("subscriber", "phone_number", name=op.f("pk_opt_outs")),
    )


def downgrade() -> None:
    op.drop_table("opt_outs")
    op.drop_table("inbound_receipts")
