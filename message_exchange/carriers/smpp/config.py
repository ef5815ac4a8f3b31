"""What an SMPP carrier connection is configured with.

The contract between carrier management (stored rows, admin API, CLI — ``carriers/``) and
the SMPP connector (``carriers/smpp/``): management turns a stored connection into an
:class:`SmppConfig` (password decrypted); the connector needs nothing else to bind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

BindMode = Literal["transceiver", "transmitter_receiver"]
DataCodingPolicy = Literal["auto", "gsm7", "latin1", "ucs2"]
"""``auto``: GSM-7 when the text fits the GSM 03.38 alphabet, else UCS-2. ``gsm7`` / ``latin1`` /
``ucs2`` force that coding for every text that it can represent (UCS-2 otherwise)."""
LongMessageMethod = Literal["udh", "sar", "payload"]
"""``udh``: concatenation UDH with an 8-bit reference; ``sar``: sar_* TLVs; ``payload``: the
whole text in one submit_sm's message_payload TLV."""


@dataclass(frozen=True, slots=True)
class SmppConfig:
    name: str  # the carrier connection's unique name (routing refers to it)
    host: str
    port: int
    system_id: str
    password: str
    system_type: str = ""
    tls: bool = False
    tls_verify: bool = True
    bind_mode: BindMode = "transceiver"
    binds: int = 1  # bound sessions across all nodes together; never more than this many at once
    window: int = 10  # submit_sm in flight per session, awaiting submit_sm_resp
    tps: float | None = None  # submit_sm PDUs per second per carrier (parts, not messages); None = no limit
    source_ton: int = 1
    source_npi: int = 1
    dest_ton: int = 1
    dest_npi: int = 1
    data_coding: DataCodingPolicy = "auto"
    long_message: LongMessageMethod = "udh"
    registered_delivery: bool = True
    enquire_link_seconds: float = 30.0
    response_timeout_seconds: float = 10.0
    reconnect_min_seconds: float = 1.0
    reconnect_max_seconds: float = 60.0
    # Optional TLVs added to every submit_sm: tag → value bytes (e.g. India DLT entity/template ids).
    custom_tlvs: dict[int, bytes] = field(default_factory=dict)
    # The TLV tag that carries a message's DLT template id (India, TRAI TCCCPR), its ASCII text
    # as the value; 0x1401 is the common Indian convention (0x1400 the entity id). 0 = never sent.
    dlt_template_tlv: int = 0x1401
    # How long a node's claim on a bind slot lasts without renewal: a dead node's slots are
    # taken over after this (renewed every third of it while the node lives).
    bind_lease_seconds: float = 30.0
    # A concatenated MO whose parts stop coming is delivered as it is after this long.
    mo_reassembly_seconds: float = 300.0
