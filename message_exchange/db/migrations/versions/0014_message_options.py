"""Messages carry their submission options; SMPP carriers name the TLV of the DLT template id.

``messages.options`` (JSON, NULL for ordinary sends) holds what the Messaging API v1's
``channels.sms.type`` 2/3/4 and ``extras.dlt_templateid`` ask of the carrier (flash, binary,
UCS-2, the DLT template id). ``carrier_connections.dlt_template_tlv`` is the submit_sm TLV
tag that carries the DLT template id (0x1401, 5121, the common Indian convention; 0 = never).

Revision ID: 0014_message_options
Revises: 0013_webhook_json
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_message_options"
down_revision = "0013_webhook_json"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("messages", sa.Column("options", sa.JSON(), nullable=True))
    op.add_column(
        "carrier_connections", sa.Column("dlt_template_tlv", sa.Integer(), nullable=False, server_default="5121")
    )


def downgrade() -> None:
    op.drop_column("carrier_connections", "dlt_template_tlv")
    op.drop_column("messages", "options")
