"""Webhook deliveries say how they carry their content: ``body_format`` (form | json) and ``body``.

A JSON delivery (the Messaging API's ``deliveryInfoNotification``) used to be a form
delivery whose only parameter was the magic name ``__json_body__``; those rows are
rewritten here (``body_format`` ``json``, the text in ``body``, no params) so pending ones
are still sent as JSON after the upgrade. Downgrade writes them back the old way.

Revision ID: 0013_webhook_json
Revises: 0012_msteams
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0013_webhook_json"
down_revision = "0012_msteams"
branch_labels = None
depends_on = None

LEGACY_PARAM = "__json_body__"

_deliveries = sa.table(
    "webhook_deliveries",
    sa.column("sid", sa.String()),
    sa.column("params", sa.JSON()),
    sa.column("body_format", sa.String()),
    sa.column("body", sa.Text()),
)


def _params(value: object) -> object:
    return json.loads(value) if isinstance(value, str) else value


def upgrade() -> None:
    op.add_column("webhook_deliveries", sa.Column("body_format", sa.String(8), server_default="form", nullable=False))
    op.add_column("webhook_deliveries", sa.Column("body", sa.Text(), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(_deliveries.c.sid, _deliveries.c.params).where(
            sa.cast(_deliveries.c.params, sa.Text).like(f"%{LEGACY_PARAM}%")
        )
    ).all()
    for sid, raw in rows:
        params = _params(raw)
        if isinstance(params, dict) and set(params) == {LEGACY_PARAM} and isinstance(params[LEGACY_PARAM], str):
            bind.execute(
                sa.update(_deliveries)
                .where(_deliveries.c.sid == sid)
                .values(body_format="json", body=params[LEGACY_PARAM], params={})
            )


def downgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(_deliveries.c.sid, _deliveries.c.body).where(_deliveries.c.body_format == "json")
    ).all()
    for sid, body in rows:
        bind.execute(sa.update(_deliveries).where(_deliveries.c.sid == sid).values(params={LEGACY_PARAM: body or ""}))
    op.drop_column("webhook_deliveries", "body")
    op.drop_column("webhook_deliveries", "body_format")
