"""carrier connections and routes

Revision ID: 0007_carriers
Revises: 0006_inbound
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from message_exchange.db.base import UTCDateTime

revision = "0007_carriers"
down_revision = "0006_inbound"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "carrier_connections",
        sa.Column("sid", sa.String(34), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("system_id", sa.String(16), nullable=False),
        sa.Column("password_encrypted", sa.Text(), nullable=False),
        sa.Column("system_type", sa.String(13), nullable=False),
        sa.Column("tls", sa.Boolean(), nullable=False),
        sa.Column("tls_verify", sa.Boolean(), nullable=False),
        sa.Column("bind_mode", sa.String(24), nullable=False),
        sa.Column("binds", sa.Integer(), nullable=False),
        sa.Column("window", sa.Integer(), nullable=False),
        sa.Column("tps", sa.Float(), nullable=True),
        sa.Column("source_ton", sa.Integer(), nullable=False),
        sa.Column("source_npi", sa.Integer(), nullable=False),
        sa.Column("dest_ton", sa.Integer(), nullable=False),
        sa.Column("dest_npi", sa.Integer(), nullable=False),
        sa.Column("data_coding", sa.String(8), nullable=False),
        sa.Column("long_message", sa.String(8), nullable=False),
        sa.Column("registered_delivery", sa.Boolean(), nullable=False),
        sa.Column("enquire_link_seconds", sa.Float(), nullable=False),
        sa.Column("response_timeout_seconds", sa.Float(), nullable=False),
        sa.Column("reconnect_min_seconds", sa.Float(), nullable=False),
        sa.Column("reconnect_max_seconds", sa.Float(), nullable=False),
        sa.Column("custom_tlvs", sa.JSON(), nullable=False),
        sa.Column("bind_lease_seconds", sa.Float(), nullable=False),
        sa.Column("mo_reassembly_seconds", sa.Float(), nullable=False),
        sa.Column("date_created", UTCDateTime(), nullable=False),
        sa.Column("date_updated", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("sid", name=op.f("pk_carrier_connections")),
        # Routes and the runtime registry refer to a connection by its name.
        sa.UniqueConstraint("name", name=op.f("uq_carrier_connections_name")),
    )
    op.create_table(
        "carrier_routes",
        sa.Column("sid", sa.String(34), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("prefix", sa.String(15), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("carrier", sa.String(64), nullable=False),
        sa.Column("date_created", UTCDateTime(), nullable=False),
        sa.Column("date_updated", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("sid", name=op.f("pk_carrier_routes")),
        sa.UniqueConstraint("channel", "prefix", "carrier", name=op.f("uq_carrier_routes_channel_prefix_carrier")),
    )
    op.create_index(op.f("ix_carrier_routes_carrier"), "carrier_routes", ["carrier"])


def downgrade() -> None:
    op.drop_index(op.f("ix_carrier_routes_carrier"), table_name="carrier_routes")
    op.drop_table("carrier_routes")
    op.drop_table("carrier_connections")
