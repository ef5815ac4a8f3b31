"""Webex exchange tables: enterprises, mappings (Webex user(s) ↔ phone number), bot settings.

Deletes are soft (``status = DELETED``): message records and usage ("Enterprise created",
"Webex mapping created") keep counting what existed. Uniqueness holds among live rows
only, through key columns that are set while a row is live and NULL once deleted (both
backends let any number of NULLs share a unique index):

- ``webex_enterprises.name_key``: an enterprise name (case-insensitive) per CSP
  organisation (``org_sid``, the root of the creator's account tree) — errors 460/470;
- ``webex_mappings.webex_key``: a webexAddress per organisation — 465;
- ``webex_mappings.external_key``: an externalAddress system-wide — 466.

``webex_bots``: one bot per CSP account — its access token and webhook secret (encrypted
with ``MX_SECRET_KEY``), who the bot is, and the ``messages.created`` webhook registered
for it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from message_exchange.db.base import Base

SID_PREFIX = "WEM"
CHANNEL = "webex"


class Status(StrEnum):
    ACTIVE = "ACTIVE"
    DELETED = "DELETED"


class Enterprise(Base):
    __tablename__ = "webex_enterprises"
    __table_args__ = (
        UniqueConstraint("org_sid", "name_key"),
        Index("ix_webex_enterprises_account_sid_date_created", "account_sid", "date_created"),
    )

    sid: Mapped[str] = mapped_column(String(35), primary_key=True)
    org_sid: Mapped[str] = mapped_column(ForeignKey("accounts.sid"))
    account_sid: Mapped[str] = mapped_column(ForeignKey("accounts.sid"))
    name: Mapped[str] = mapped_column(String(255))
    name_key: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    date_created: Mapped[datetime]
    date_updated: Mapped[datetime]
    date_deleted: Mapped[datetime | None]


class Mapping(Base):
    __tablename__ = "webex_mappings"
    __table_args__ = (
        UniqueConstraint("org_sid", "webex_key"),
        UniqueConstraint("external_key"),
        Index("ix_webex_mappings_account_sid_date_created", "account_sid", "date_created"),
        Index("ix_webex_mappings_enterprise_sid_status", "enterprise_sid", "status"),
    )

    sid: Mapped[str] = mapped_column(String(35), primary_key=True)
    org_sid: Mapped[str] = mapped_column(ForeignKey("accounts.sid"))
    account_sid: Mapped[str] = mapped_column(ForeignKey("accounts.sid"))
    enterprise_sid: Mapped[str] = mapped_column(ForeignKey("webex_enterprises.sid"))
    name: Mapped[str] = mapped_column(String(255))
    # As the API shows it: one address, or several comma-separated (a group mapping).
    webex_address: Mapped[str] = mapped_column(String(1024))
    webex_key: Mapped[str | None] = mapped_column(String(1024))
    external_address: Mapped[str] = mapped_column(String(16))
    external_key: Mapped[str | None] = mapped_column(String(16))
    # True when the mapping provisioned the number (deleting the mapping then releases it).
    provisioned_number: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(16))
    date_created: Mapped[datetime]
    date_updated: Mapped[datetime]
    date_deleted: Mapped[datetime | None]

    @property
    def webex_addresses(self) -> list[str]:
        return [part for part in self.webex_address.split(",") if part]


class Bot(Base):
    __tablename__ = "webex_bots"

    account_sid: Mapped[str] = mapped_column(ForeignKey("accounts.sid"), primary_key=True)
    access_token_encrypted: Mapped[str] = mapped_column(Text)
    webhook_secret_encrypted: Mapped[str] = mapped_column(Text)
    person_id: Mapped[str] = mapped_column(String(255))
    email: Mapped[str] = mapped_column(String(320))
    display_name: Mapped[str] = mapped_column(String(255))
    webhook_id: Mapped[str | None] = mapped_column(String(255))
    webhook_url: Mapped[str] = mapped_column(Text)
    date_created: Mapped[datetime]
    date_updated: Mapped[datetime]
