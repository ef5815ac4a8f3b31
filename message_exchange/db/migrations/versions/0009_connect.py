"""Messaging API v1: services, templates, smart links, contact policy, transactions, events

Revision ID: 0009_connect
Revises: 0006_inbound
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from message_exchange.db.base import UTCDateTime

revision = "0009_connect"
down_revision = "0006_inbound"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "connect_services",
        sa.Column("sid", sa.String(34), nullable=False),
        sa.Column("account_sid", sa.String(34), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("key_hint", sa.String(8), nullable=False),
        sa.Column("notify_url", sa.Text(), nullable=True),
        sa.Column("sender_ids", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("date_created", UTCDateTime(), nullable=False),
        sa.Column("date_updated", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_sid"], ["accounts.sid"], name=op.f("fk_connect_services_account_sid_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("sid", name=op.f("pk_connect_services")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_connect_services_key_hash")),
    )
    op.create_index("ix_connect_services_account_sid", "connect_services", ["account_sid"])
    op.create_table(
        "connect_templates",
        sa.Column("sid", sa.String(34), nullable=False),
        sa.Column("service_sid", sa.String(34), nullable=False),
        sa.Column("template_id", sa.String(64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("date_created", UTCDateTime(), nullable=False),
        sa.Column("date_updated", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_sid"],
            ["connect_services.sid"],
            name=op.f("fk_connect_templates_service_sid_connect_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("sid", name=op.f("pk_connect_templates")),
        sa.UniqueConstraint("service_sid", "template_id", name=op.f("uq_connect_templates_service_sid_template_id")),
    )
    op.create_table(
        "connect_link_definitions",
        sa.Column("service_sid", sa.String(34), nullable=False),
        sa.Column("link_id", sa.String(64), nullable=False),
        sa.Column("target_url", sa.Text(), nullable=False),
        sa.Column("date_created", UTCDateTime(), nullable=False),
        sa.Column("date_updated", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_sid"],
            ["connect_services.sid"],
            name=op.f("fk_connect_link_definitions_service_sid_connect_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("service_sid", "link_id", name=op.f("pk_connect_link_definitions")),
    )
    op.create_table(
        "connect_short_links",
        sa.Column("code", sa.String(16), nullable=False),
        sa.Column("service_sid", sa.String(34), nullable=False),
        sa.Column("link_id", sa.String(64), nullable=False),
        sa.Column("transid", sa.String(36), nullable=False),
        sa.Column("destination", sa.String(32), nullable=False),
        sa.Column("target_url", sa.Text(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("clicks", sa.Integer(), nullable=False),
        sa.Column("first_clicked_at", UTCDateTime(), nullable=True),
        sa.Column("last_clicked_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_connect_short_links")),
    )
    op.create_index("ix_connect_short_links_transid", "connect_short_links", ["transid"])
    op.create_index("ix_connect_short_links_service_sid_link_id", "connect_short_links", ["service_sid", "link_id"])
    op.create_table(
        "connect_policy_groups",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("account_sid", sa.String(34), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("cap_count", sa.Integer(), nullable=True),
        sa.Column("cap_period_seconds", sa.Integer(), nullable=True),
        sa.Column("date_created", UTCDateTime(), nullable=False),
        sa.Column("date_updated", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_sid"],
            ["accounts.sid"],
            name=op.f("fk_connect_policy_groups_account_sid_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connect_policy_groups")),
    )
    op.create_index("ix_connect_policy_groups_account_sid", "connect_policy_groups", ["account_sid"])
    op.create_table(
        "connect_consents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_sid", sa.String(34), nullable=False),
        sa.Column("group_id", sa.String(32), nullable=True),
        sa.Column("msisdn", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("consent", sa.String(8), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("number", sa.String(32), nullable=True),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connect_consents")),
    )
    op.create_index(
        "ix_connect_consents_account_sid_msisdn_recorded_at",
        "connect_consents",
        ["account_sid", "msisdn", "recorded_at"],
    )
    op.create_table(
        "connect_transactions",
        sa.Column("transid", sa.String(36), nullable=False),
        sa.Column("message_sid", sa.String(34), nullable=False),
        sa.Column("service_sid", sa.String(34), nullable=False),
        sa.Column("account_sid", sa.String(34), nullable=False),
        sa.Column("batch_id", sa.String(36), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("destination", sa.String(32), nullable=False),
        sa.Column("sms_type", sa.String(1), nullable=False),
        sa.Column("extras", sa.JSON(), nullable=False),
        sa.Column("correlationid", sa.String(50), nullable=True),
        sa.Column("callback_data", sa.Text(), nullable=True),
        sa.Column("notify_url", sa.Text(), nullable=True),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column("policy_group", sa.String(32), nullable=True),
        sa.Column("counted", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("transid", name=op.f("pk_connect_transactions")),
    )
    op.create_index("ix_connect_transactions_message_sid", "connect_transactions", ["message_sid"], unique=True)
    op.create_index(
        "ix_connect_transactions_service_sid_created_at", "connect_transactions", ["service_sid", "created_at"]
    )
    op.create_index(
        "ix_connect_transactions_policy_group_destination_created_at",
        "connect_transactions",
        ["policy_group", "destination", "created_at"],
    )
    op.create_table(
        "connect_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("message_sid", sa.String(34), nullable=False),
        sa.Column("code", sa.String(8), nullable=False),
        sa.Column("description", sa.String(128), nullable=False),
        sa.Column("delivery_status", sa.String(32), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("notified", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connect_events")),
    )
    op.create_index("ix_connect_events_message_sid_notified", "connect_events", ["message_sid", "notified"])


def downgrade() -> None:
    op.drop_table("connect_events")
    op.drop_table("connect_transactions")
    op.drop_table("connect_consents")
    op.drop_table("connect_policy_groups")
    op.drop_table("connect_short_links")
    op.drop_table("connect_link_definitions")
    op.drop_table("connect_templates")
    op.drop_table("connect_services")
