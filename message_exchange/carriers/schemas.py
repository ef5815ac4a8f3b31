"""Admin API bodies and resources for carrier connections and routes (Restcomm family)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from message_exchange.carriers import service
from message_exchange.carriers.models import CarrierConnection, CarrierRoute
from message_exchange.core.dates import rfc2822

API_BASE = "/restcomm/2012-04-24"
MASKED = "********"  # fixed, whatever the password: SMPP passwords are short, even their length is a hint


def _empty_is_none(value: Any) -> Any:
    return None if isinstance(value, str) and value.strip().lower() in ("", "none", "null") else value


class _ConnectionParams(BaseModel):
    """Every connection setting; parameters not given are left out of ``model_dump(exclude_unset=True)``."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    type: str | None = Field(default=None, alias="Type", max_length=16, description="Connector type: smpp.")
    enabled: bool | None = Field(default=None, alias="Enabled", description="Default true.")
    host: str | None = Field(default=None, alias="Host", max_length=255, description="SMSC host name or IP.")
    port: int | None = Field(default=None, alias="Port", description="SMSC port, 1-65535.")
    tls: bool | None = Field(default=None, alias="Tls", description="Connect over TLS. Default false.")
    tls_verify: bool | None = Field(default=None, alias="TlsVerify", description="Verify the SMSC certificate.")
    system_id: str | None = Field(default=None, alias="SystemId", max_length=64, description="Bind system_id.")
    password: str | None = Field(default=None, alias="Password", max_length=64, description="Bind password (≤ 8).")
    system_type: str | None = Field(default=None, alias="SystemType", max_length=64)
    bind_mode: str | None = Field(
        default=None, alias="BindMode", max_length=32, description="transceiver | transmitter_receiver"
    )
    binds: int | None = Field(default=None, alias="Binds", description="Bound sessions across all nodes, 1-64.")
    window: int | None = Field(default=None, alias="Window", description="submit_sm in flight per session.")
    tps: float | None = Field(default=None, alias="Tps", description="submit_sm per second; empty = no limit.")
    source_ton: int | None = Field(default=None, alias="SourceTon")
    source_npi: int | None = Field(default=None, alias="SourceNpi")
    dest_ton: int | None = Field(default=None, alias="DestTon")
    dest_npi: int | None = Field(default=None, alias="DestNpi")
    data_coding: str | None = Field(
        default=None, alias="DataCoding", max_length=16, description="auto | gsm7 | latin1 | ucs2"
    )
    long_message: str | None = Field(default=None, alias="LongMessage", max_length=16, description="udh|sar|payload")
    registered_delivery: bool | None = Field(default=None, alias="RegisteredDelivery")
    enquire_link_seconds: float | None = Field(default=None, alias="EnquireLinkSeconds")
    response_timeout_seconds: float | None = Field(default=None, alias="ResponseTimeoutSeconds")
    reconnect_min_seconds: float | None = Field(default=None, alias="ReconnectMinSeconds")
    reconnect_max_seconds: float | None = Field(default=None, alias="ReconnectMaxSeconds")
    bind_lease_seconds: float | None = Field(
        default=None, alias="BindLeaseSeconds", description="A dead node's bind slots are taken over after this."
    )
    mo_reassembly_seconds: float | None = Field(
        default=None, alias="MoReassemblySeconds", description="Incomplete concatenated MO delivered after this."
    )
    custom_tlvs: str | None = Field(
        default=None,
        alias="CustomTlvs",
        max_length=8192,
        description='JSON object tag → hex value, e.g. {"0x1400": "31323334"}; {} clears.',
    )
    dlt_template_tlv: int | str | None = Field(
        default=None,
        alias="DltTemplateTlv",
        max_length=16,
        description="TLV tag carrying a message's DLT template id (default 0x1401); 0 = never.",
    )

    _tps = field_validator("tps", mode="before")(_empty_is_none)

    def values(self) -> dict[str, Any]:
        """The parameters given, as the service's typed values (``None`` only for Tps: no limit)."""
        given = self.model_dump(exclude_unset=True)
        for field, value in list(given.items()):
            if value is None and field != "tps":
                del given[field]  # an explicit empty value of a required-typed setting: keep as is
        if "custom_tlvs" in given:
            given["custom_tlvs"] = service.parse_tlvs(given["custom_tlvs"])
        if "dlt_template_tlv" in given:
            tag = given["dlt_template_tlv"]
            if isinstance(tag, str):
                given["dlt_template_tlv"] = service.parse_tlv_tag(tag.strip(), param="DltTemplateTlv")
        return given


class ConnectionCreate(_ConnectionParams):
    name: str = Field(alias="Name", min_length=1, max_length=64, description="Unique; routes refer to it.")


class ConnectionUpdate(_ConnectionParams):
    """Only the parameters given change; the name is fixed."""


class RouteCreate(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    carrier: str = Field(alias="Carrier", min_length=1, max_length=64, description="Connection name, or sandbox.")
    prefix: str = Field(default="", alias="Prefix", max_length=32, description="E.164 digits; empty = any number.")
    channel: str = Field(default="*", alias="Channel", max_length=8, description="sms | mms | *")
    priority: int = Field(default=0, alias="Priority", description="Lower first among equal prefixes.")


def connection_uri(name: str) -> str:
    return f"{API_BASE}/Carriers/{name}.json"


def connection_resource(row: CarrierConnection) -> dict[str, Any]:
    return {
        "sid": row.sid,
        "name": row.name,
        "type": row.type,
        "enabled": row.enabled,
        "host": row.host,
        "port": row.port,
        "tls": row.tls,
        "tls_verify": row.tls_verify,
        "system_id": row.system_id,
        "password": MASKED,
        "system_type": row.system_type,
        "bind_mode": row.bind_mode,
        "binds": row.binds,
        "window": row.window,
        "tps": row.tps,
        "source_ton": row.source_ton,
        "source_npi": row.source_npi,
        "dest_ton": row.dest_ton,
        "dest_npi": row.dest_npi,
        "data_coding": row.data_coding,
        "long_message": row.long_message,
        "registered_delivery": row.registered_delivery,
        "enquire_link_seconds": row.enquire_link_seconds,
        "response_timeout_seconds": row.response_timeout_seconds,
        "reconnect_min_seconds": row.reconnect_min_seconds,
        "reconnect_max_seconds": row.reconnect_max_seconds,
        "custom_tlvs": {f"0x{int(tag):04X}": value for tag, value in row.custom_tlvs.items()},
        "dlt_template_tlv": f"0x{row.dlt_template_tlv:04X}" if row.dlt_template_tlv else None,
        "bind_lease_seconds": row.bind_lease_seconds,
        "mo_reassembly_seconds": row.mo_reassembly_seconds,
        "date_created": rfc2822(row.date_created),
        "date_updated": rfc2822(row.date_updated),
        "uri": connection_uri(row.name),
    }


def route_resource(route: CarrierRoute) -> dict[str, Any]:
    return {
        "sid": route.sid,
        "channel": route.channel,
        "prefix": route.prefix,
        "priority": route.priority,
        "carrier": route.carrier,
        "date_created": rfc2822(route.date_created),
        "date_updated": rfc2822(route.date_updated),
        "uri": f"{API_BASE}/CarrierRoutes/{route.sid}.json",
    }
