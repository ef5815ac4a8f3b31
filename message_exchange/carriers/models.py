"""Carrier connections (how to reach a carrier) and carrier routes (which carrier takes what).

A connection's columns are :class:`~message_exchange.carriers.smpp.config.SmppConfig`'s
fields, one for one, plus its identity (``sid``, unique ``name``), ``type``, ``enabled``
and timestamps; the password is stored encrypted (``password_encrypted``, Fernet under
``MX_SECRET_KEY``). ``custom_tlvs`` is a JSON object ``{"<tag decimal>": "<value hex>"}``.

A route says: messages on ``channel`` (``sms``, ``mms`` or ``*``) to numbers whose E.164
digits start with ``prefix`` (``""`` = any) may go to ``carrier`` (a connection's name, or
``sandbox``), ``priority`` ordering routes of equal prefix length (lower first). Routes
refer to carriers by name, not by foreign key, because ``sandbox`` is a carrier with no
row; the service keeps them consistent (a carrier with routes cannot be removed).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, Index, Integer, String, Text, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column

from message_exchange.db.base import Base

CONNECTION_SID_PREFIX = "CC"
ROUTE_SID_PREFIX = "CR"


class CarrierConnection(Base):
    __tablename__ = "carrier_connections"

    sid: Mapped[str] = mapped_column(String(34), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    type: Mapped[str] = mapped_column(String(16))
    enabled: Mapped[bool] = mapped_column(Boolean)
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer)
    system_id: Mapped[str] = mapped_column(String(16))
    password_encrypted: Mapped[str] = mapped_column(Text)
    system_type: Mapped[str] = mapped_column(String(13))
    tls: Mapped[bool] = mapped_column(Boolean)
    tls_verify: Mapped[bool] = mapped_column(Boolean)
    bind_mode: Mapped[str] = mapped_column(String(24))
    binds: Mapped[int] = mapped_column(Integer)
    window: Mapped[int] = mapped_column(Integer)
    tps: Mapped[float | None] = mapped_column(Float)
    source_ton: Mapped[int] = mapped_column(Integer)
    source_npi: Mapped[int] = mapped_column(Integer)
    dest_ton: Mapped[int] = mapped_column(Integer)
    dest_npi: Mapped[int] = mapped_column(Integer)
    data_coding: Mapped[str] = mapped_column(String(8))
    long_message: Mapped[str] = mapped_column(String(8))
    registered_delivery: Mapped[bool] = mapped_column(Boolean)
    enquire_link_seconds: Mapped[float] = mapped_column(Float)
    response_timeout_seconds: Mapped[float] = mapped_column(Float)
    reconnect_min_seconds: Mapped[float] = mapped_column(Float)
    reconnect_max_seconds: Mapped[float] = mapped_column(Float)
    custom_tlvs: Mapped[dict[str, Any]] = mapped_column(JSON)
    dlt_template_tlv: Mapped[int] = mapped_column(Integer)  # 0 = no DLT template id TLV
    bind_lease_seconds: Mapped[float] = mapped_column(Float)
    mo_reassembly_seconds: Mapped[float] = mapped_column(Float)
    date_created: Mapped[datetime]
    date_updated: Mapped[datetime]


class CarrierPresence(Base):
    """Process ``node`` runs carrier ``carrier`` — ``bound`` (up) or not — until ``up_until``,
    as that node last said.

    Each process's carrier registry rewrites its own rows at every reload, so a dead node's
    rows simply run out. Dispatch on a node where a carrier is down steers messages to the
    carrier's job queue only while some other node says it is bound there; the SMPP
    connector counts the nodes running a carrier to take only its fair share of the binds.
    """

    __tablename__ = "carrier_presence"

    carrier: Mapped[str] = mapped_column(String(64), primary_key=True)
    node: Mapped[str] = mapped_column(String(128), primary_key=True)
    up_until: Mapped[datetime]
    bound: Mapped[bool] = mapped_column(Boolean, server_default=true())


class CarrierRoute(Base):
    __tablename__ = "carrier_routes"
    __table_args__ = (
        UniqueConstraint("channel", "prefix", "carrier"),
        # Routing reads every route of a channel (a few hundred rows at most); removal checks by carrier.
        Index("ix_carrier_routes_carrier", "carrier"),
    )

    sid: Mapped[str] = mapped_column(String(34), primary_key=True)
    channel: Mapped[str] = mapped_column(String(8))  # sms | mms | *
    prefix: Mapped[str] = mapped_column(String(15))  # E.164 digits without "+"; "" matches every number
    priority: Mapped[int] = mapped_column(Integer)
    carrier: Mapped[str] = mapped_column(String(64))
    date_created: Mapped[datetime]
    date_updated: Mapped[datetime]
