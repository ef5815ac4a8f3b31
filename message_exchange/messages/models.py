"""Messages, outbound and inbound, on every API family."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from message_exchange.core.sids import random_hex
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
    # How to submit it beyond its text (carriers.base.SubmitOptions.to_stored): the Messaging
    # API's flash / binary / unicode types and DLT template id; NULL for every other send path.
    options: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))


class MessageEvent(Base):
    """One status change of a message, as :func:`~message_exchange.messages.service.record_status`
    made it: its history (the console's timeline). Creation (``queued`` / ``received``) is the
    message's own ``date_created``; rows start with the first change after it."""

    __tablename__ = "message_events"
    __table_args__ = (Index("ix_message_events_message_sid_occurred_at", "message_sid", "occurred_at"),)

    # Made by the process (event_id), not by the database: the ORM then needs nothing back
    # and inserts a batch's events as one executemany instead of one statement each.
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    message_sid: Mapped[str] = mapped_column(ForeignKey("messages.sid", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[int | None] = mapped_column(Integer)
    error_message: Mapped[str | None] = mapped_column(Text)
    carrier: Mapped[str | None] = mapped_column(String(64))
    occurred_at: Mapped[datetime]


def event_id() -> str:
    """``EV`` + nanoseconds + randomness: unique, and in time order within a process."""
    return f"EV{time.time_ns():020d}{random_hex(8)}"


class MessageView(Protocol):
    """What rendering a message reads: a stored :class:`Message` or a just-accepted one."""

    @property
    def sid(self) -> str: ...
    @property
    def account_sid(self) -> str: ...
    @property
    def direction(self) -> str: ...
    @property
    def channel(self) -> str: ...
    @property
    def from_address(self) -> str: ...
    @property
    def to_address(self) -> str: ...
    @property
    def body(self) -> str: ...
    @property
    def media(self) -> list[dict[str, Any]]: ...
    @property
    def num_segments(self) -> int: ...
    @property
    def status(self) -> str: ...
    @property
    def error_code(self) -> int | None: ...
    @property
    def error_message(self) -> str | None: ...
    @property
    def price(self) -> str | None: ...
    @property
    def price_unit(self) -> str: ...
    @property
    def api_version(self) -> str: ...
    @property
    def date_created(self) -> datetime: ...
    @property
    def date_updated(self) -> datetime: ...
    @property
    def date_sent(self) -> datetime | None: ...


@dataclass(frozen=True, slots=True)
class AcceptedMessage:
    """A message as the send path inserted it (every column), without an ORM instance's upkeep."""

    sid: str
    account_sid: str
    direction: str
    channel: str
    from_address: str
    to_address: str
    body: str
    media: list[dict[str, Any]]
    num_segments: int
    status: str
    error_code: int | None
    error_message: str | None
    price: str | None
    price_unit: str
    status_callback: str | None
    status_callback_method: str
    api_version: str
    created_via: str
    carrier: str | None
    carrier_message_id: str | None
    date_created: datetime
    date_updated: datetime
    date_sent: datetime | None
