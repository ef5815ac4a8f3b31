"""Messages, outbound and inbound, on every API family."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from message_exchange.db.base import Base

SID_PREFIX = "SM"


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_account_sid_date_created", "account_sid", "date_created"),
        Index("ix_messages_account_sid_status", "account_sid", "status"),
        Index("ix_messages_carrier_carrier_message_id", "carrier", "carrier_message_id"),
    )

    sid: Mapped[str] = mapped_column(String(34), primary_key=True)
    account_sid: Mapped[str] = mapped_column(ForeignKey("accounts.sid"))
    direction: Mapped[str] = mapped_column(String(16))  # outbound-api | outbound-reply | inbound
    channel: Mapped[str] = mapped_column(String(8))  # sms | mms
    from_address: Mapped[str] = mapped_column(String(32))
    to_address: Mapped[str] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(Text, default="")
    media: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    num_segments: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[int | None] = mapped_column(Integer)
    error_message: Mapped[str | None] = mapped_column(Text)
    price: Mapped[str | None] = mapped_column(String(16))
    price_unit: Mapped[str] = mapped_column(String(3), default="USD")
    status_callback: Mapped[str | None] = mapped_column(Text)
    status_callback_method: Mapped[str] = mapped_column(String(4), default="POST")
    api_version: Mapped[str] = mapped_column(String(10), default="2012-04-24")
    created_via: Mapped[str] = mapped_column(String(16))  # messages | sms | twilio | inbound
    carrier: Mapped[str | None] = mapped_column(String(64))
    carrier_message_id: Mapped[str | None] = mapped_column(String(128))
    date_created: Mapped[datetime]
    date_updated: Mapped[datetime]
    date_sent: Mapped[datetime | None]
