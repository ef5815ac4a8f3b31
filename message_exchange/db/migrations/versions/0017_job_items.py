"""Jobs say how many items they carry (``items``): a shared job names many messages or deliveries.

Revision ID: 0017_job_items
Revises: 0016_presence_bound
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_job_items"
down_revision = "0016_presence_bound"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every job written before this revision carried one item.
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("items", sa.Integer(), nullable=False, server_default=sa.text("1")))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("items")
