"""Messaging API v1 tables: services and keys, templates, smart links, contact policy, and the
link from each accepted destination (a ``transid``) to the ordinary message that carries it.

- ``connect_services``: a service of an account, found by the SHA-256 of its key (the key
  itself is shown once, when created or rotated), with its default ``notifyurl`` and the
  sender ids it may use.
- ``connect_templates``: a service's message templates, ``{{name}}`` parameters.
- ``connect_link_definitions``: a service's smart link ids and their target URLs;
  ``connect_short_links``: one short code per destination and link, with its click count.
- ``connect_policy_groups``: contact policy groups of an account (frequency cap);
  ``connect_consents``: the consent history (API records of a group, and account-wide
  STOP/START keyword records with ``group_id`` NULL); the latest record decides.
- ``connect_transactions``: one row per destination message (``transid`` ↔ message sid),
  with correlationid, callbackData, notifyurl, expiry and the policy group it counts in.
- ``connect_events``: the notification outbox — one row per status a destination reached
  that its ``notifyurl`` hears about, turned into a webhook delivery by ``connect.notify``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from message_exchange.db.base import Base

SERVICE_PREFIX = "CS"
TEMPLATE_PREFIX = "CT"


class ConnectService(Base):
    __tablename__ = "connect_services"
    __table_args__ = (Index("ix_connect_services_account_sid", "account_sid"),)

    sid: Mapped[str] = mapped_column(String(34), primary_key=True)
    account_sid: Mapped[str] = mapped_column(ForeignKey("accounts.sid", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_hint: Mapped[str] = mapped_column(String(8))
    notify_url: Mapped[str | None] = mapped_column(Text)
    sender_ids: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))  # active | disabled
    date_created: Mapped[datetime]
    date_updated: Mapped[datetime]


class ConnectTemplate(Base):
    __tablename__ = "connect_templates"
    __table_args__ = (UniqueConstraint("service_sid", "template_id"),)

    sid: Mapped[str] = mapped_column(String(34), primary_key=True)
    service_sid: Mapped[str] = mapped_column(ForeignKey("connect_services.sid", ondelete="CASCADE"))
    template_id: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    parameters: Mapped[list[str]] = mapped_column(JSON)
    date_created: Mapped[datetime]
    date_updated: Mapped[datetime]


class ConnectLinkDefinition(Base):
    __tablename__ = "connect_link_definitions"

    service_sid: Mapped[str] = mapped_column(ForeignKey("connect_services.sid", ondelete="CASCADE"), primary_key=True)
    link_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    target_url: Mapped[str] = mapped_column(Text)
    date_created: Mapped[datetime]
    date_updated: Mapped[datetime]


class ConnectShortLink(Base):
    __tablename__ = "connect_short_links"
    __table_args__ = (
        Index("ix_connect_short_links_transid", "transid"),
        Index("ix_connect_short_links_service_sid_link_id", "service_sid", "link_id"),
    )

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    service_sid: Mapped[str] = mapped_column(String(34))
    link_id: Mapped[str] = mapped_column(String(64))
    transid: Mapped[str] = mapped_column(String(36))
    destination: Mapped[str] = mapped_column(String(32))
    target_url: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime]
    clicks: Mapped[int] = mapped_column(Integer)
    first_clicked_at: Mapped[datetime | None]
    last_clicked_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class ConnectPolicyGroup(Base):
    __tablename__ = "connect_policy_groups"
    __table_args__ = (Index("ix_connect_policy_groups_account_sid", "account_sid"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_sid: Mapped[str] = mapped_column(ForeignKey("accounts.sid", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    cap_count: Mapped[int | None] = mapped_column(Integer)
    cap_period_seconds: Mapped[int | None] = mapped_column(Integer)
    date_created: Mapped[datetime]
    date_updated: Mapped[datetime]


class ConnectConsent(Base):
    __tablename__ = "connect_consents"
    __table_args__ = (
        Index("ix_connect_consents_account_sid_msisdn_recorded_at", "account_sid", "msisdn", "recorded_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_sid: Mapped[str] = mapped_column(String(34))
    group_id: Mapped[str | None] = mapped_column(String(32))  # NULL: every group of the account (keywords)
    msisdn: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    consent: Mapped[str] = mapped_column(String(8))  # opt_in | opt_out
    source: Mapped[str] = mapped_column(String(16))  # api | keyword
    number: Mapped[str | None] = mapped_column(String(32))  # our number a keyword was sent to
    recorded_at: Mapped[datetime]


class ConnectTransaction(Base):
    __tablename__ = "connect_transactions"
    __table_args__ = (
        Index("ix_connect_transactions_message_sid", "message_sid", unique=True),
        Index("ix_connect_transactions_service_sid_created_at", "service_sid", "created_at"),
        Index(
            "ix_connect_transactions_policy_group_destination_created_at", "policy_group", "destination", "created_at"
        ),
    )

    transid: Mapped[str] = mapped_column(String(36), primary_key=True)
    message_sid: Mapped[str] = mapped_column(String(34))
    service_sid: Mapped[str] = mapped_column(String(34))
    account_sid: Mapped[str] = mapped_column(String(34))
    batch_id: Mapped[str] = mapped_column(String(36))
    channel: Mapped[str] = mapped_column(String(16))
    destination: Mapped[str] = mapped_column(String(32))
    sms_type: Mapped[str] = mapped_column(String(1))
    extras: Mapped[dict[str, Any]] = mapped_column(JSON)
    correlationid: Mapped[str | None] = mapped_column(String(50))
    callback_data: Mapped[str | None] = mapped_column(Text)
    notify_url: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None]
    policy_group: Mapped[str | None] = mapped_column(String(32))
    counted: Mapped[bool] = mapped_column(Boolean)  # counts against the group's frequency cap
    created_at: Mapped[datetime]


class ConnectEvent(Base):
    __tablename__ = "connect_events"
    __table_args__ = (Index("ix_connect_events_message_sid_notified", "message_sid", "notified"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_sid: Mapped[str] = mapped_column(String(34))
    code: Mapped[str] = mapped_column(String(8))
    description: Mapped[str] = mapped_column(String(128))
    delivery_status: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime]
    notified: Mapped[bool] = mapped_column(Boolean)
