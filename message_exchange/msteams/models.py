"""Teams exchange tables: business customers, mappings (Teams user ↔ phone number), bot details, media.

``msteams_enterprises``: a business customer of a CSP. ``account_sid`` is the CSP account
that created it, ``admin_sid`` its admin sub-account (who may log in and sees only this
business customer). ``name_key`` (its name, case-folded) is unique per CSP organisation
(``org_sid``) while the business customer is not CLOSED (NULL once closed).

``msteams_mappings``: a Teams user (``microsoft_address``, validated through Graph; its
Azure AD object id in ``aad_object_id``) ↔ an SMS-enabled number. Deletes are soft
(``status = DELETED``) so message records keep their mapping; ``external_key`` (the
number while the mapping is live) is unique system-wide. ``teams_conversation_id`` /
``service_url`` are the user's 1:1 conversation with the bot once known;
``last_conversation_sid`` the exchange conversation the user last used (where a plain
message goes).

``msteams_bots``: the Azure bot of a business customer (one each): its app registration
(``application_id`` = the Microsoft App ID tokens are issued for), tenant, client secret
(encrypted with ``MX_SECRET_KEY``), the Teams app id, and the Bot Connector service URL
last seen on an activity from that tenant.

``msteams_media``: files a Teams user attached, downloaded on arrival and served to the
carrier (MMS media) from ``/msteams/media/<sid>``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from message_exchange.db.base import Base

ENTERPRISE_PREFIX = "EN"
MAPPING_PREFIX = "BE"
BOT_PREFIX = "BE"
MESSAGE_PREFIX = "MS"
MEDIA_PREFIX = "ME"
CHANNEL = "msteams"


class EnterpriseStatus(StrEnum):
    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"
    CLOSED = "CLOSED"


class MappingStatus(StrEnum):
    ACTIVE = "ACTIVE"
    DELETED = "DELETED"


class BusinessCustomer(Base):
    __tablename__ = "msteams_enterprises"
    __table_args__ = (
        UniqueConstraint("org_sid", "name_key"),
        Index("ix_msteams_enterprises_account_sid_date_created", "account_sid", "date_created"),
        Index("ix_msteams_enterprises_admin_sid", "admin_sid"),
    )

    sid: Mapped[str] = mapped_column(String(34), primary_key=True)
    org_sid: Mapped[str] = mapped_column(ForeignKey("accounts.sid"))
    account_sid: Mapped[str] = mapped_column(ForeignKey("accounts.sid"))
    admin_sid: Mapped[str] = mapped_column(ForeignKey("accounts.sid"))
    name: Mapped[str] = mapped_column(String(255))
    name_key: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    date_created: Mapped[datetime]
    date_updated: Mapped[datetime]


class TeamsMapping(Base):
    __tablename__ = "msteams_mappings"
    __table_args__ = (
        UniqueConstraint("external_key"),
        Index("ix_msteams_mappings_enterprise_sid_status", "enterprise_sid", "status"),
        Index("ix_msteams_mappings_account_sid_date_created", "account_sid", "date_created"),
        Index("ix_msteams_mappings_aad_object_id", "aad_object_id"),
    )

    sid: Mapped[str] = mapped_column(String(34), primary_key=True)
    org_sid: Mapped[str] = mapped_column(ForeignKey("accounts.sid"))
    account_sid: Mapped[str] = mapped_column(ForeignKey("accounts.sid"))
    enterprise_sid: Mapped[str] = mapped_column(ForeignKey("msteams_enterprises.sid"))
    name: Mapped[str] = mapped_column(String(255))
    microsoft_address: Mapped[str] = mapped_column(String(320))
    domain: Mapped[str] = mapped_column(String(255))
    aad_object_id: Mapped[str | None] = mapped_column(String(64))
    external_address: Mapped[str] = mapped_column(String(16))
    external_key: Mapped[str | None] = mapped_column(String(16))
    provisioned_number: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(16))
    teams_conversation_id: Mapped[str | None] = mapped_column(String(512))
    service_url: Mapped[str | None] = mapped_column(String(1024))
    last_conversation_sid: Mapped[str | None] = mapped_column(String(34))
    date_created: Mapped[datetime]
    date_updated: Mapped[datetime]
    date_deleted: Mapped[datetime | None]


class BotDetails(Base):
    __tablename__ = "msteams_bots"
    __table_args__ = (
        UniqueConstraint("enterprise_sid"),
        Index("ix_msteams_bots_account_sid_date_created", "account_sid", "date_created"),
    )

    sid: Mapped[str] = mapped_column(String(34), primary_key=True)
    enterprise_sid: Mapped[str] = mapped_column(ForeignKey("msteams_enterprises.sid"))
    account_sid: Mapped[str] = mapped_column(ForeignKey("accounts.sid"))
    application_id: Mapped[str] = mapped_column(String(255))
    tenant_id: Mapped[str] = mapped_column(String(255))
    client_secret_encrypted: Mapped[str] = mapped_column(Text)
    bot_app_id: Mapped[str] = mapped_column(String(255))
    service_url: Mapped[str | None] = mapped_column(String(1024))
    date_created: Mapped[datetime]
    date_updated: Mapped[datetime]


class TeamsMedia(Base):
    __tablename__ = "msteams_media"

    sid: Mapped[str] = mapped_column(String(34), primary_key=True)
    account_sid: Mapped[str] = mapped_column(ForeignKey("accounts.sid"))
    content_type: Mapped[str] = mapped_column(String(255))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    date_created: Mapped[datetime]
