"""What every chat exchange (Webex, Teams) keeps: conversations, message records, receipts.

``exchange_conversations``: one per (channel, mapping, remote handset). ``space_id`` is the
chat platform's room (a Webex space, a Teams conversation), made on the first message; its
unique index lets a chat event find its conversation.

``exchange_messages``: the message records the management APIs list and count. A record
is one message across the bridge: INBOUND (handset → chat user) or OUTBOUND (chat user →
handset), SMS or MMS. ``channel_status`` / ``channel_error_*`` describe the leg the other
side carried: for OUTBOUND the SMS/MMS status the carrier reported (``message_sid`` is that
message), for INBOUND whether the chat platform took the post. ``group_sid`` is the
channel's grouping of mappings (a Webex enterprise, a Teams business customer).

``exchange_receipts``: one row per chat platform message id, so a webhook delivered twice
sends one SMS (its primary key is the dedupe constraint, as ``inbound_receipts`` is).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from message_exchange.db.base import Base

CONVERSATION_PREFIX = "CV"


class Conversation(Base):
    __tablename__ = "exchange_conversations"
    __table_args__ = (
        UniqueConstraint("channel", "mapping_sid", "remote_address"),
        Index("ix_exchange_conversations_channel_space_id", "channel", "space_id", unique=True),
    )

    sid: Mapped[str] = mapped_column(String(34), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    account_sid: Mapped[str] = mapped_column(ForeignKey("accounts.sid"))
    mapping_sid: Mapped[str] = mapped_column(String(35))
    local_address: Mapped[str] = mapped_column(String(16))
    remote_address: Mapped[str] = mapped_column(String(32))
    space_id: Mapped[str | None] = mapped_column(String(255))
    date_created: Mapped[datetime]
    date_updated: Mapped[datetime]


class ExchangeMessage(Base):
    __tablename__ = "exchange_messages"
    __table_args__ = (
        Index("ix_exchange_messages_channel_account_sid_date_created", "channel", "account_sid", "date_created"),
        Index("ix_exchange_messages_group_sid_date_created", "group_sid", "date_created"),
        Index("ix_exchange_messages_message_sid", "message_sid"),
        Index("ix_exchange_messages_conversation_sid_date_created", "conversation_sid", "date_created"),
    )

    sid: Mapped[str] = mapped_column(String(35), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    account_sid: Mapped[str] = mapped_column(ForeignKey("accounts.sid"))
    group_sid: Mapped[str] = mapped_column(String(35))
    mapping_sid: Mapped[str] = mapped_column(String(35))
    conversation_sid: Mapped[str | None] = mapped_column(String(34))
    direction: Mapped[str] = mapped_column(String(8))  # INBOUND | OUTBOUND
    type: Mapped[str] = mapped_column(String(3))  # SMS | MMS
    from_address: Mapped[str] = mapped_column(String(1024))
    to_address: Mapped[str] = mapped_column(String(1024))
    message_sid: Mapped[str | None] = mapped_column(String(34))
    chat_message_id: Mapped[str | None] = mapped_column(String(255))
    channel_status: Mapped[str] = mapped_column(String(32))
    channel_error_code: Mapped[str | None] = mapped_column(String(16))
    channel_error_message: Mapped[str | None] = mapped_column(Text)
    failure_notified: Mapped[bool] = mapped_column(Boolean, default=False)
    date_created: Mapped[datetime]
    date_updated: Mapped[datetime]


class ChatReceipt(Base):
    __tablename__ = "exchange_receipts"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    chat_message_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    received_at: Mapped[datetime]
