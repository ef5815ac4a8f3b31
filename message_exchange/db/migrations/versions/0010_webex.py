"""webex exchange: enterprises, mappings, bots; exchange conversations, message records, receipts

Revision ID: 0010_webex
Revises: 0006_inbound
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from message_exchange.db.base import UTCDateTime

revision = "0010_webex"
down_revision = "0006_inbound"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webex_enterprises",
        sa.Column("sid", sa.String(35), nullable=False),
        sa.Column("org_sid", sa.String(34), nullable=False),
        sa.Column("account_sid", sa.String(34), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("name_key", sa.String(255), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("date_created", UTCDateTime(), nullable=False),
        sa.Column("date_updated", UTCDateTime(), nullable=False),
        sa.Column("date_deleted", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["org_sid"], ["accounts.sid"], name=op.f("fk_webex_enterprises_org_sid_accounts")),
        sa.ForeignKeyConstraint(
            ["account_sid"], ["accounts.sid"], name=op.f("fk_webex_enterprises_account_sid_accounts")
        ),
        sa.PrimaryKeyConstraint("sid", name=op.f("pk_webex_enterprises")),
        sa.UniqueConstraint("org_sid", "name_key", name=op.f("uq_webex_enterprises_org_sid_name_key")),
    )
    op.create_index(
        "ix_webex_enterprises_account_sid_date_created", "webex_enterprises", ["account_sid", "date_created"]
    )
    op.create_table(
        "webex_mappings",
        sa.Column("sid", sa.String(35), nullable=False),
        sa.Column("org_sid", sa.String(34), nullable=False),
        sa.Column("account_sid", sa.String(34), nullable=False),
        sa.Column("enterprise_sid", sa.String(35), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("webex_address", sa.String(1024), nullable=False),
        sa.Column("webex_key", sa.String(1024), nullable=True),
        sa.Column("external_address", sa.String(16), nullable=False),
        sa.Column("external_key", sa.String(16), nullable=True),
        sa.Column("provisioned_number", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("date_created", UTCDateTime(), nullable=False),
        sa.Column("date_updated", UTCDateTime(), nullable=False),
        sa.Column("date_deleted", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["org_sid"], ["accounts.sid"], name=op.f("fk_webex_mappings_org_sid_accounts")),
        sa.ForeignKeyConstraint(["account_sid"], ["accounts.sid"], name=op.f("fk_webex_mappings_account_sid_accounts")),
        sa.ForeignKeyConstraint(
            ["enterprise_sid"],
            ["webex_enterprises.sid"],
            name=op.f("fk_webex_mappings_enterprise_sid_webex_enterprises"),
        ),
        sa.PrimaryKeyConstraint("sid", name=op.f("pk_webex_mappings")),
        sa.UniqueConstraint("org_sid", "webex_key", name=op.f("uq_webex_mappings_org_sid_webex_key")),
        sa.UniqueConstraint("external_key", name=op.f("uq_webex_mappings_external_key")),
    )
    op.create_index("ix_webex_mappings_account_sid_date_created", "webex_mappings", ["account_sid", "date_created"])
    op.create_index("ix_webex_mappings_enterprise_sid_status", "webex_mappings", ["enterprise_sid", "status"])
    op.create_table(
        "webex_bots",
        sa.Column("account_sid", sa.String(34), nullable=False),
        sa.Column("access_token_encrypted", sa.Text(), nullable=False),
        sa.Column("webhook_secret_encrypted", sa.Text(), nullable=False),
        sa.Column("person_id", sa.String(255), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("display_name", sa.String(255), nullable=False),
        sa.Column("webhook_id", sa.String(255), nullable=True),
        sa.Column("webhook_url", sa.Text(), nullable=False),
        sa.Column("date_created", UTCDateTime(), nullable=False),
        sa.Column("date_updated", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_sid"], ["accounts.sid"], name=op.f("fk_webex_bots_account_sid_accounts")),
        sa.PrimaryKeyConstraint("account_sid", name=op.f("pk_webex_bots")),
    )
    op.create_table(
        "exchange_conversations",
        sa.Column("sid", sa.String(34), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("account_sid", sa.String(34), nullable=False),
        sa.Column("mapping_sid", sa.String(35), nullable=False),
        sa.Column("local_address", sa.String(16), nullable=False),
        sa.Column("remote_address", sa.String(32), nullable=False),
        sa.Column("space_id", sa.String(255), nullable=True),
        sa.Column("date_created", UTCDateTime(), nullable=False),
        sa.Column("date_updated", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_sid"], ["accounts.sid"], name=op.f("fk_exchange_conversations_account_sid_accounts")
        ),
        sa.PrimaryKeyConstraint("sid", name=op.f("pk_exchange_conversations")),
        sa.UniqueConstraint(
            "channel",
            "mapping_sid",
            "remote_address",
            name=op.f("uq_exchange_conversations_channel_mapping_sid_remote_address"),
        ),
    )
    op.create_index(
        "ix_exchange_conversations_channel_space_id", "exchange_conversations", ["channel", "space_id"], unique=True
    )
    op.create_table(
        "exchange_messages",
        sa.Column("sid", sa.String(35), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("account_sid", sa.String(34), nullable=False),
        sa.Column("group_sid", sa.String(35), nullable=False),
        sa.Column("mapping_sid", sa.String(35), nullable=False),
        sa.Column("conversation_sid", sa.String(34), nullable=True),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("type", sa.String(3), nullable=False),
        sa.Column("from_address", sa.String(1024), nullable=False),
        sa.Column("to_address", sa.String(1024), nullable=False),
        sa.Column("message_sid", sa.String(34), nullable=True),
        sa.Column("chat_message_id", sa.String(255), nullable=True),
        sa.Column("channel_status", sa.String(32), nullable=False),
        sa.Column("channel_error_code", sa.String(16), nullable=True),
        sa.Column("channel_error_message", sa.Text(), nullable=True),
        sa.Column("failure_notified", sa.Boolean(), nullable=False),
        sa.Column("date_created", UTCDateTime(), nullable=False),
        sa.Column("date_updated", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_sid"], ["accounts.sid"], name=op.f("fk_exchange_messages_account_sid_accounts")
        ),
        sa.PrimaryKeyConstraint("sid", name=op.f("pk_exchange_messages")),
    )
    op.create_index(
        "ix_exchange_messages_channel_account_sid_date_created",
        "exchange_messages",
        ["channel", "account_sid", "date_created"],
    )
    op.create_index("ix_exchange_messages_group_sid_date_created", "exchange_messages", ["group_sid", "date_created"])
    op.create_index("ix_exchange_messages_message_sid", "exchange_messages", ["message_sid"])
    op.create_index(
        "ix_exchange_messages_conversation_sid_date_created",
        "exchange_messages",
        ["conversation_sid", "date_created"],
    )
    op.create_table(
        "exchange_receipts",
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("chat_message_id", sa.String(255), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("channel", "chat_message_id", name=op.f("pk_exchange_receipts")),
    )


def downgrade() -> None:
    op.drop_table("exchange_receipts")
    op.drop_index("ix_exchange_messages_conversation_sid_date_created", table_name="exchange_messages")
    op.drop_index("ix_exchange_messages_message_sid", table_name="exchange_messages")
    op.drop_index("ix_exchange_messages_group_sid_date_created", table_name="exchange_messages")
    op.drop_index("ix_exchange_messages_channel_account_sid_date_created", table_name="exchange_messages")
    op.drop_table("exchange_messages")
    op.drop_index("ix_exchange_conversations_channel_space_id", table_name="exchange_conversations")
    op.drop_table("exchange_conversations")
    op.drop_table("webex_bots")
    op.drop_index("ix_webex_mappings_enterprise_sid_status", table_name="webex_mappings")
    op.drop_index("ix_webex_mappings_account_sid_date_created", table_name="webex_mappings")
    op.drop_table("webex_mappings")
    op.drop_index("ix_webex_enterprises_account_sid_date_created", table_name="webex_enterprises")
    op.drop_table("webex_enterprises")
