"""The accounts tree."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from message_exchange.db.base import Base

SID_PREFIX = "AC"


class AccountStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    CLOSED = "closed"


class AccountRole(StrEnum):
    ADMINISTRATOR = "Administrator"
    DEVELOPER = "Developer"


class Account(Base):
    __tablename__ = "accounts"

    sid: Mapped[str] = mapped_column(String(34), primary_key=True)
    parent_sid: Mapped[str | None] = mapped_column(ForeignKey("accounts.sid"), index=True)
    # "/ACroot/…/ACself/": ancestors are read off it, descendants found by prefix.
    lineage: Mapped[str] = mapped_column(String(1024), index=True)
    friendly_name: Mapped[str] = mapped_column(String(64))
    email_address: Mapped[str] = mapped_column(String(254), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=AccountStatus.ACTIVE)
    type: Mapped[str] = mapped_column(String(16), default="Full")
    role: Mapped[str] = mapped_column(String(32))
    auth_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    auth_token_encrypted: Mapped[str] = mapped_column(Text)
    password_hash: Mapped[str | None] = mapped_column(Text)
    date_created: Mapped[datetime] = mapped_column(index=True)
    date_updated: Mapped[datetime]

    @property
    def ancestor_sids(self) -> list[str]:
        return [sid for sid in self.lineage.strip("/").split("/") if sid != self.sid]
