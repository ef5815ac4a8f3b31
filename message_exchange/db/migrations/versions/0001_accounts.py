"""accounts

Revision ID: 0001_accounts
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from message_exchange.db.base import UTCDateTime

revision = "0001_accounts"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("sid", sa.String(34), nullable=False),
        sa.Column("parent_sid", sa.String(34), nullable=True),
        sa.Column("lineage", sa.String(1024), nullable=False),
        sa.Column("friendly_name", sa.String(64), nullable=False),
        sa.Column("email_address", sa.String(254), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("auth_token_hash", sa.String(64), nullable=False),
        sa.Column("auth_token_encrypted", sa.Text(), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column("date_created", UTCDateTime(), nullable=False),
        sa.Column("date_updated", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["parent_sid"], ["accounts.sid"], name=op.f("fk_accounts_parent_sid_accounts")),
        sa.PrimaryKeyConstraint("sid", name=op.f("pk_accounts")),
        sa.UniqueConstraint("auth_token_hash", name=op.f("uq_accounts_auth_token_hash")),
        sa.UniqueConstraint("email_address", name=op.f("uq_accounts_email_address")),
    )
    op.create_index(op.f("ix_accounts_parent_sid"), "accounts", ["parent_sid"])
    op.create_index(op.f("ix_accounts_lineage"), "accounts", ["lineage"])
    op.create_index(op.f("ix_accounts_date_created"), "accounts", ["date_created"])


def downgrade() -> None:
    op.drop_table("accounts")
