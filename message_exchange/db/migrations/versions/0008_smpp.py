"""smpp parts, parked receipts, MO reassembly and bind leases

Revision ID: 0008_smpp
Revises: 0006_inbound
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from message_exchange.db.base import UTCDateTime

revision = "0008_smpp"
down_revision = "0006_inbound"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "smpp_parts",
        sa.Column("message_sid", sa.String(34), nullable=False),
        sa.Column("carrier", sa.String(64), nullable=False),
        sa.Column("part_index", sa.Integer(), nullable=False),
        sa.Column("total_parts", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("carrier_message_id", sa.String(128), nullable=True),
        sa.Column("id_hex", sa.String(48), nullable=True),
        sa.Column("id_dec", sa.String(48), nullable=True),
        sa.Column("command_status", sa.Integer(), nullable=True),
        sa.Column("submitted_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.Column("receipt_state", sa.String(8), nullable=True),
        sa.Column("receipt_error", sa.String(32), nullable=True),
        sa.Column("receipt_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("message_sid", "carrier", "part_index", name=op.f("pk_smpp_parts")),
    )
    op.create_index("ix_smpp_parts_carrier_carrier_message_id", "smpp_parts", ["carrier", "carrier_message_id"])
    op.create_index("ix_smpp_parts_carrier_id_hex", "smpp_parts", ["carrier", "id_hex"])
    op.create_index("ix_smpp_parts_carrier_id_dec", "smpp_parts", ["carrier", "id_dec"])
    op.create_table(
        "smpp_parked_receipts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("carrier", sa.String(64), nullable=False),
        sa.Column("carrier_message_id", sa.String(128), nullable=False),
        sa.Column("id_hex", sa.String(48), nullable=True),
        sa.Column("id_dec", sa.String(48), nullable=True),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("error", sa.String(32), nullable=True),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_smpp_parked_receipts")),
    )
    op.create_index("ix_smpp_parked_receipts_carrier", "smpp_parked_receipts", ["carrier"])
    op.create_table(
        "smpp_mo_parts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("carrier", sa.String(64), nullable=False),
        sa.Column("source_addr", sa.String(32), nullable=False),
        sa.Column("destination_addr", sa.String(32), nullable=False),
        sa.Column("ref", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data_coding", sa.Integer(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_smpp_mo_parts")),
        sa.UniqueConstraint(
            "carrier",
            "source_addr",
            "destination_addr",
            "ref",
            "total",
            "seq",
            name=op.f("uq_smpp_mo_parts_carrier_source_addr_destination_addr_ref_total_seq"),
        ),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_smpp_mo_parts_received_at", "smpp_mo_parts", ["received_at"])
    op.create_table(
        "smpp_bind_leases",
        sa.Column("carrier", sa.String(64), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("lease_until", UTCDateTime(), nullable=False),
        sa.Column("acquired_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("carrier", "slot", name=op.f("pk_smpp_bind_leases")),
    )


def downgrade() -> None:
    op.drop_table("smpp_bind_leases")
    op.drop_index("ix_smpp_mo_parts_received_at", table_name="smpp_mo_parts")
    op.drop_table("smpp_mo_parts")
    op.drop_index("ix_smpp_parked_receipts_carrier", table_name="smpp_parked_receipts")
    op.drop_table("smpp_parked_receipts")
    op.drop_index("ix_smpp_parts_carrier_id_dec", table_name="smpp_parts")
    op.drop_index("ix_smpp_parts_carrier_id_hex", table_name="smpp_parts")
    op.drop_index("ix_smpp_parts_carrier_carrier_message_id", table_name="smpp_parts")
    op.drop_table("smpp_parts")
