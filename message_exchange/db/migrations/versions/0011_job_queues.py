"""Job queues: a job may be kept for the workers serving a named queue; jobs by kind; carrier presence per node.

Also the point where the four branches of this release (carriers, SMPP, Messaging API v1,
Webex exchange), written side by side, join again.

Revision ID: 0011_job_queues
Revises: 0007_carriers, 0008_smpp, 0009_connect, 0010_webex
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from message_exchange.db.base import UTCDateTime

revision = "0011_job_queues"
down_revision = ("0007_carriers", "0008_smpp", "0009_connect", "0010_webex")
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("queue", sa.String(length=64), nullable=True))
    op.create_index(
        "ix_jobs_kind_run_at",
        "jobs",
        ["kind", "run_at"],
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "carrier_presence",
        sa.Column("carrier", sa.String(64), nullable=False),
        sa.Column("node", sa.String(128), nullable=False),
        sa.Column("up_until", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("carrier", "node", name=op.f("pk_carrier_presence")),
    )


def downgrade() -> None:
    op.drop_table("carrier_presence")
    op.drop_index("ix_jobs_kind_run_at", table_name="jobs")
    op.drop_column("jobs", "queue")
