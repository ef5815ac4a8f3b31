"""What the SMPP connector keeps in the database. Carriers are referred to by name (no foreign key).

``smpp_parts`` — one row per ``submit_sm`` of a message to a carrier: written ``sending``
(with ``attempts`` counted up) before the part goes out and ``sent`` with the carrier's id
when its ``submit_sm_resp`` arrives. A part already ``sent`` is never sent again. Its
receipt state is kept here too: a multipart message is delivered when every part is.
``id_hex`` / ``id_dec`` hold the id's numeric value read as hex / as decimal (as decimal
text), so a receipt that writes the id in the other base still finds its part.

``smpp_parked_receipts`` — a receipt whose part is not known yet (it overtook its
``submit_sm_resp``, or the resp is recorded by another node): kept until its part appears.

``smpp_mo_parts`` — parts of a concatenated mobile-originated message until all have come
(or the reassembly timeout passes), so a restart loses none.

``smpp_bind_leases`` — bind slot ``slot`` of carrier ``carrier`` is held by ``holder`` (a
process) until ``lease_until``; a holder renews its leases while its sessions are bound.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from message_exchange.db.base import Base


class SmppPart(Base):
    __tablename__ = "smpp_parts"
    __table_args__ = (
        # Led by the id, so that no part update by primary key can be planned through them
        # (migration 0018).
        Index("ix_smpp_parts_carrier_message_id_carrier", "carrier_message_id", "carrier"),
        Index("ix_smpp_parts_id_hex_carrier", "id_hex", "carrier"),
        Index("ix_smpp_parts_id_dec_carrier", "id_dec", "carrier"),
    )

    message_sid: Mapped[str] = mapped_column(String(34), primary_key=True)
    carrier: Mapped[str] = mapped_column(String(64), primary_key=True)
    part_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    total_parts: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))  # sending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer)
    carrier_message_id: Mapped[str | None] = mapped_column(String(128))
    id_hex: Mapped[str | None] = mapped_column(String(48))
    id_dec: Mapped[str | None] = mapped_column(String(48))
    command_status: Mapped[int | None] = mapped_column(Integer)
    submitted_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    receipt_state: Mapped[str | None] = mapped_column(String(8))
    receipt_error: Mapped[str | None] = mapped_column(String(32))
    receipt_at: Mapped[datetime | None]


class SmppParkedReceipt(Base):
    __tablename__ = "smpp_parked_receipts"
    __table_args__ = (Index("ix_smpp_parked_receipts_carrier", "carrier"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    carrier: Mapped[str] = mapped_column(String(64))
    carrier_message_id: Mapped[str] = mapped_column(String(128))
    id_hex: Mapped[str | None] = mapped_column(String(48))
    id_dec: Mapped[str | None] = mapped_column(String(48))
    state: Mapped[str] = mapped_column(String(8))
    error: Mapped[str | None] = mapped_column(String(32))
    received_at: Mapped[datetime]


class SmppMoPart(Base):
    __tablename__ = "smpp_mo_parts"
    __table_args__ = (
        UniqueConstraint("carrier", "source_addr", "destination_addr", "ref", "total", "seq"),
        Index("ix_smpp_mo_parts_received_at", "received_at"),
        # Row ids name reassembled messages (dedupe): SQLite must never reuse one.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    carrier: Mapped[str] = mapped_column(String(64))
    source_addr: Mapped[str] = mapped_column(String(32))
    destination_addr: Mapped[str] = mapped_column(String(32))
    ref: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    data_coding: Mapped[int] = mapped_column(Integer)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime]


class SmppBindLease(Base):
    __tablename__ = "smpp_bind_leases"

    carrier: Mapped[str] = mapped_column(String(64), primary_key=True)
    slot: Mapped[int] = mapped_column(Integer, primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    lease_until: Mapped[datetime]
    acquired_at: Mapped[datetime]
