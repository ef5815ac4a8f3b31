"""Carrier presence also names the nodes that run a carrier without holding a bind (``bound``).

Revision ID: 0016_presence_bound
Revises: 0015_message_events
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_presence_bound"
down_revision = "0015_message_events"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every row written before this revision was a bound carrier.
    with op.batch_alter_table("carrier_presence") as batch:
        batch.add_column(sa.Column("bound", sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade() -> None:
    op.execute("DELETE FROM carrier_presence WHERE NOT bound")
    with op.batch_alter_table("carrier_presence") as batch:
        batch.drop_column("bound")
