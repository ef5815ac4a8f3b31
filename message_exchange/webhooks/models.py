"""Durable webhook deliveries (``webhook_deliveries``) and every HTTP attempt (``webhook_attempts``).

A delivery is one logical callback (e.g. "message SM… became delivered") to one URL,
carrying form ``params`` or (``body_format`` ``json``) a JSON ``body``; it
is ``pending`` until an attempt got a 2xx (``delivered``) or it gave up (``failed``).
Deliveries of one ``(resource_sid, url)`` are sent in creation order (``created_at``, then
``sid``); see :mod:`message_exchange.webhooks.handlers`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from message_exchange.db.base import Base

SID_PREFIX = "WH"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class BodyFormat(StrEnum):
    """How a delivery's request carries its content."""

    FORM = "form"  # ``params``: form-encoded (POST) or the query string (GET), signed with the params
    JSON = "json"  # ``body``: posted as is (application/json) to the URL with ?bodySHA256=<hex>


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="status"),
        CheckConstraint("method IN ('GET', 'POST')", name="method"),
        # The list endpoint: one account's deliveries, newest first (filters narrow it further).
        Index("ix_webhook_deliveries_account_sid_created_at", "account_sid", "created_at"),
        # Ordering checks and "the callbacks of this message": one resource's deliveries in order.
        Index("ix_webhook_deliveries_resource_sid_created_at", "resource_sid", "created_at"),
    )

    sid: Mapped[str] = mapped_column(String(34), primary_key=True)
    account_sid: Mapped[str] = mapped_column(ForeignKey("accounts.sid", ondelete="CASCADE"))
    resource_sid: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(Text)
    method: Mapped[str] = mapped_column(String(8))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    body_format: Mapped[str] = mapped_column(String(8), server_default=BodyFormat.FORM.value)
    # The exact JSON text a ``json`` delivery posts (every retry sends and signs the same bytes).
    body: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    job_id: Mapped[str | None] = mapped_column(String(34))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class WebhookAttempt(Base):
    """One HTTP request of a delivery: what it got back, or why it got nothing."""

    __tablename__ = "webhook_attempts"

    delivery_sid: Mapped[str] = mapped_column(
        ForeignKey("webhook_deliveries.sid", ondelete="CASCADE"), primary_key=True
    )
    attempt: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[datetime]
    duration_ms: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    # The start of the response body (for debugging a customer's endpoint), capped.
    response_body: Mapped[str | None] = mapped_column(Text)


class Outgoing(Protocol):
    """What sending a delivery reads: a stored :class:`WebhookDelivery` or a :class:`PendingDelivery`."""

    @property
    def sid(self) -> str: ...
    @property
    def account_sid(self) -> str: ...
    @property
    def resource_sid(self) -> str: ...
    @property
    def purpose(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def method(self) -> str: ...
    @property
    def params(self) -> dict[str, Any]: ...
    @property
    def body_format(self) -> str: ...
    @property
    def body(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class PendingDelivery:
    """A pending delivery as the batch path reads it: plain values, no ORM upkeep."""

    sid: str
    account_sid: str
    resource_sid: str
    purpose: str
    url: str
    method: str
    params: dict[str, Any]
    body_format: str
    body: str | None
