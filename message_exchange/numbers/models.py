"""Incoming phone numbers: a number an account owns, and where its inbound SMS go.

``phone_number`` is E.164 and unique system-wide (``uq_incoming_phone_numbers_phone_number``):
the inbound router finds the owner by the number alone, and the unique index makes two
concurrent adds of the same number end in one row and one 409. The list endpoint filters
by account and sorts by date created or friendly name, hence the two composite indexes; a
``PhoneNumber`` prefix filter uses the unique index.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from message_exchange.db.base import Base

SID_PREFIX = "PN"
API_VERSION = "2012-04-24"


class IncomingPhoneNumber(Base):
    __tablename__ = "incoming_phone_numbers"
    __table_args__ = (
        Index("ix_incoming_phone_numbers_account_sid_date_created", "account_sid", "date_created"),
        Index("ix_incoming_phone_numbers_account_sid_friendly_name", "account_sid", "friendly_name"),
    )

    sid: Mapped[str] = mapped_column(String(34), primary_key=True)
    account_sid: Mapped[str] = mapped_column(ForeignKey("accounts.sid"))
    # E.164: "+" and at most 15 digits.
    phone_number: Mapped[str] = mapped_column(String(16), unique=True)
    friendly_name: Mapped[str] = mapped_column(String(64))
    sms_url: Mapped[str | None] = mapped_column(Text)
    sms_method: Mapped[str] = mapped_column(String(4))
    sms_fallback_url: Mapped[str | None] = mapped_column(Text)
    sms_fallback_method: Mapped[str] = mapped_column(String(4))
    status_callback: Mapped[str | None] = mapped_column(Text)
    status_callback_method: Mapped[str] = mapped_column(String(4))
    sms_capable: Mapped[bool] = mapped_column(Boolean)
    mms_capable: Mapped[bool] = mapped_column(Boolean)
    date_created: Mapped[datetime]
    date_updated: Mapped[datetime]
