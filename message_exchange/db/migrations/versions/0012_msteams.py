"""msteams exchange: business customers, mappings, bot details, media

Revision ID: 0012_msteams
Revises: 0011_job_queues
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from message_exchange.db.base import UTCDateTime

revision = "0012_msteams"
down_revision = "0011_job_queues"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "msteams_enterprises",
        sa.Column("sid", sa.String(34), nullable=False),
        sa.Column("org_sid", sa.String(34), nullable=False),
        sa.Column("account_sid", sa.String(34), nullable=False),
        sa.Column("admin_sid", sa.String(34), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("name_key", sa.String(255), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("date_created", UTCDateTime(), nullable=False),
        sa.Column("date_updated", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["org_sid"], ["accounts.sid"], name=op.f("fk_msteams_enterprises_org_sid_accounts")),
        sa.ForeignKeyConstraint(
            ["account_sid"], ["accounts.sid"], name=op.f("fk_msteams_enterprises_account_sid_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["admin_sid"], ["accounts.sid"], name=op.f("fk_msteams_enterprises_admin_sid_accounts")
        ),
        sa.PrimaryKeyConstraint("sid", name=op.f("pk_msteams_enterprises")),
        sa.UniqueConstraint("org_sid", "name_key", name=op.f("uq_msteams_enterprises_org_sid_name_key")),
    )
    op.create_index(
        "ix_msteams_enterprises_account_sid_date_created", "msteams_enterprises", ["account_sid", "date_created"]
    )
    op.create_index("ix_msteams_enterprises_admin_sid", "msteams_enterprises", ["admin_sid"])
    op.create_table(
        "msteams_mappings",
        sa.Column("sid", sa.String(34), nullable=False),
        sa.Column("org_sid", sa.String(34), nullable=False),
        sa.Column("account_sid", sa.String(34), nullable=False),
        sa.Column("enterprise_sid", sa.String(34), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("microsoft_address", sa.String(320), nullable=False),
        sa.Column("domain", sa.String(255), nullable=False),
        sa.Column("aad_object_id", sa.String(64), nullable=True),
        sa.Column("external_address", sa.String(16), nullable=False),
        sa.Column("external_key", sa.String(16), nullable=True),
        sa.Column("provisioned_number", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("teams_conversation_id", sa.String(512), nullable=True),
        sa.Column("service_url", sa.String(1024), nullable=True),
        sa.Column("last_conversation_sid", sa.String(34), nullable=True),
        sa.Column("date_created", UTCDateTime(), nullable=False),
        sa.Column("date_updated", UTCDateTime(), nullable=False),
        sa.Column("date_deleted", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["org_sid"], ["accounts.sid"], name=op.f("fk_msteams_mappings_org_sid_accounts")),
        sa.ForeignKeyConstraint(
            ["account_sid"], ["accounts.sid"], name=op.f("fk_msteams_mappings_account_sid_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_sid"],
            ["msteams_enterprises.sid"],
            name=op.f("fk_msteams_mappings_enterprise_sid_msteams_enterprises"),
        ),
        sa.PrimaryKeyConstraint("sid", name=op.f("pk_msteams_mappings")),
        sa.UniqueConstraint("external_key", name=op.f("uq_msteams_mappings_external_key")),
    )
    op.create_index("ix_msteams_mappings_enterprise_sid_status", "msteams_mappings", ["enterprise_sid", "status"])
    op.create_index("ix_msteams_mappings_account_sid_date_created", "msteams_mappings", ["account_sid", "date_created"])
    op.create_index("ix_msteams_mappings_aad_object_id", "msteams_mappings", ["aad_object_id"])
    op.create_table(
        "msteams_bots",
        sa.Column("sid", sa.String(34), nullable=False),
        sa.Column("enterprise_sid", sa.String(34), nullable=False),
        sa.Column("account_sid", sa.String(34), nullable=False),
        sa.Column("application_id", sa.String(255), nullable=False),
        sa.Column("tenant_id", sa.String(255), nullable=False),
        sa.Column("client_secret_encrypted", sa.Text(), nullable=False),
        sa.Column("bot_app_id", sa.String(255), nullable=False),
        sa.Column("service_url", sa.String(1024), nullable=True),
        sa.Column("date_created", UTCDateTime(), nullable=False),
        sa.Column("date_updated", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_sid"],
            ["msteams_enterprises.sid"],
            name=op.f("fk_msteams_bots_enterprise_sid_msteams_enterprises"),
        ),
        sa.ForeignKeyConstraint(["account_sid"], ["accounts.sid"], name=op.f("fk_msteams_bots_account_sid_accounts")),
        sa.PrimaryKeyConstraint("sid", name=op.f("pk_msteams_bots")),
        sa.UniqueConstraint("enterprise_sid", name=op.f("uq_msteams_bots_enterprise_sid")),
    )
    op.create_index("ix_msteams_bots_account_sid_date_created", "msteams_bots", ["account_sid", "date_created"])
    op.create_table(
        "msteams_media",
        sa.Column("sid", sa.String(34), nullable=False),
        sa.Column("account_sid", sa.String(34), nullable=False),
        sa.Column("content_type", sa.String(255), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("date_created", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_sid"], ["accounts.sid"], name=op.f("fk_msteams_media_account_sid_accounts")),
        sa.PrimaryKeyConstraint("sid", name=op.f("pk_msteams_media")),
    )


def downgrade() -> None:
    op.drop_table("msteams_media")
    op.drop_index("ix_msteams_bots_account_sid_date_created", table_name="msteams_bots")
    op.drop_table("msteams_bots")
    op.drop_index("ix_msteams_mappings_aad_object_id", table_name="msteams_mappings")
    op.drop_index("ix_msteams_mappings_account_sid_date_created", table_name="msteams_mappings")
    op.drop_index("ix_msteams_mappings_enterprise_sid_status", table_name="msteams_mappings")
    op.drop_table("msteams_mappings")
    op.drop_index("ix_msteams_enterprises_admin_sid", table_name="msteams_enterprises")
    op.drop_index("ix_msteams_enterprises_account_sid_date_created", table_name="msteams_enterprises")
    op.drop_table("msteams_enterprises")
