"""What the inbound router remembers besides the message itself.

``inbound_receipts``: one row per provider message id (its primary key is the dedupe
constraint, so two concurrent deliveries of the same id end in one row and one message).
Kept apart from ``messages.carrier_message_id`` because an outbound message's carrier id
and an inbound one's may coincide (the sandbox's loopback uses one id for both halves).

``opt_outs``: a subscriber (the remote handset) that sent STOP to one of our numbers.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from message_exchange.db.base import Base


class InboundReceipt(Base):
    __tablename__ = "inbound_receipts"

    carrier: Mapped[str] = mapped_column(String(64), primary_key=True)
    carrier_message_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    message_sid: Mapped[str] = mapped_column(String(34))
    received_at: Mapped[datetime]


class OptOut(Base):
    __tablename__ = "opt_outs"

    # The number that sent STOP (a subscriber) and the number of ours it was sent to.
    subscriber: Mapped[str] = mapped_column(String(32), primary_key=True)
    phone_number: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime]
