"""Carrier connections and routes: validate, store, resolve. Never commits; knows no HTTP.

Connections
    :func:`create_connection` / :func:`update_connection` take a mapping of
    :class:`~message_exchange.carriers.smpp.config.SmppConfig` field names (plus ``type``
    and ``enabled``) to typed values; a missing key takes the default (create) or stays
    as it is (update). Every value is checked here, once, for the admin API and the CLI
    alike; a problem raises BadRequest naming the parameter in the caller's spelling
    (``names``). The password is encrypted with the SecretBox before it is stored and
    never leaves this module in clear except through :func:`to_smpp_config`. A
    connection's ``name`` is fixed once created: routes refer to it.

Routing
    :func:`routes_for` gives the carriers to try for a message, best first:

    1. routes of the message's channel or ``*`` whose ``prefix`` starts the number's
       E.164 digits; the longest prefix first, then the lower ``priority``, then a
       channel-specific route before a ``*`` one, then by carrier name; each carrier once;
    2. no route matches and no carrier connection exists at all → ``["sandbox"]`` (the
       embedded default: a fresh install delivers through the sandbox);
    3. no route matches but connections exist → ``[]``: dispatch fails the message with
       :data:`NO_ROUTE` rather than guess (a CSP never wants traffic on a carrier it did
       not route there, nor fake deliveries from the sandbox).

    ``sandbox`` is a carrier name routes may use (e.g. test ranges), with no connection row.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from message_exchange.carriers.models import (
    CONNECTION_SID_PREFIX,
    ROUTE_SID_PREFIX,
    CarrierConnection,
    CarrierRoute,
)
from message_exchange.carriers.repository import ConnectionRepository, RouteRepository
from message_exchange.carriers.smpp.config import SmppConfig
from message_exchange.core.crypto import SecretBox
from message_exchange.core.errors import BadRequest, Conflict, NotFound
from message_exchange.core.paging import PageRequest, ensure_page_exists
from message_exchange.core.sids import is_sid, new_sid
from message_exchange.db.base import utcnow

SANDBOX = "sandbox"
NO_ROUTE = 21612  # Twilio: "The 'To' phone number is not currently reachable via SMS or MMS"
CARRIER_TAKEN = 20409

# Connection types the registry can run; the registry adds the types of its factories.
KNOWN_TYPES: set[str] = {"smpp"}
CHANNELS = ("sms", "mms", "*")
BIND_MODES = ("transceiver", "transmitter_receiver")
DATA_CODINGS = ("auto", "gsm7", "latin1", "ucs2")
LONG_MESSAGE_METHODS = ("udh", "sar", "payload")
TONS = range(0, 7)  # SMPP 3.4 §5.2.5: unknown … abbreviated
NPIS = (0, 1, 3, 4, 6, 8, 9, 10, 14, 18)  # SMPP 3.4 §5.2.6
# TLVs the connector sets itself for long messages: a custom one would corrupt them.
RESERVED_TLVS = {0x020C: "sar_msg_ref_num", 0x020E: "sar_total_segments", 0x020F: "sar_segment_seqnum"}
RESERVED_TLVS[0x0424] = "message_payload"
MAX_TLV_VALUE = 255
MAX_ROUTE_PRIORITY = 1_000_000

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_HOST = re.compile(r"[A-Za-z0-9._:-]{1,255}")
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]*")
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})*")

# Every stored SmppConfig field but the identity and the secret: (name, default). A field the
# connector adds later (always with a default) takes its default until it gets a column.
SETTING_DEFAULTS: dict[str, Any] = {
    f.name: (f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default)
    for f in dataclasses.fields(SmppConfig)
    if f.name not in ("name", "password") and f.name in CarrierConnection.__table__.columns
}
REQUIRED = ("host", "port", "system_id", "password")

ParamName = Callable[[str], str]


def api_param(field: str) -> str:
    """``system_id`` → ``SystemId`` (the admin API's parameter names)."""
    special = {"tls": "Tls", "tps": "Tps"}
    return special.get(field) or "".join(part.capitalize() for part in field.split("_"))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def parse_tlvs(text: str, *, param: str = "CustomTlvs") -> dict[int, bytes]:
    """``{"0x1400": "31323334", "5121": ""}`` (tag in hex or decimal → value in hex) → ``{tag: bytes}``."""
    if not text.strip():
        return {}
    problem = f'{param} must be a JSON object of tag → hex value, such as {{"0x1400": "3132"}}'
    try:
        raw = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise BadRequest(problem, param=param) from None
    if not isinstance(raw, dict):
        raise BadRequest(problem, param=param)
    return {parse_tlv_tag(str(tag), param=param): parse_tlv_value(value, param=param) for tag, value in raw.items()}


def parse_tlv_tag(text: str, *, param: str) -> int:
    try:
        tag = int(text, 16) if text.lower().startswith("0x") else int(text, 10)
    except ValueError:
        raise BadRequest(f"{param}: TLV tag {text!r} is not a number (decimal or 0x hex)", param=param) from None
    return tag


def parse_tlv_value(value: Any, *, param: str) -> bytes:
    if not isinstance(value, str) or not _HEX.fullmatch(value):
        raise BadRequest(f"{param}: a TLV value is an even number of hex digits, got {value!r}", param=param)
    return bytes.fromhex(value)


def _check(values: dict[str, Any], name_of: ParamName) -> None:
    """Every rule a connection's settings obey; the first broken one raises BadRequest."""

    def bad(field: str, text: str) -> BadRequest:
        return BadRequest(f"{name_of(field)} {text}", param=name_of(field))

    def in_range(field: str, low: float, high: float, *, whole: bool) -> None:
        value = values[field]
        if not (_is_int(value) if whole else _is_number(value)) or not low <= value <= high:
            kind = "a whole number" if whole else "a number"
            raise bad(field, f"must be {kind} from {low:g} to {high:g}, got {value!r}")

    def one_of(field: str, choices: tuple[str, ...]) -> None:
        if values[field] not in choices:
            raise bad(field, f"must be one of {', '.join(choices)}; got {values[field]!r}")

    def ascii_text(field: str, low: int, high: int, what: str) -> None:
        value = values[field]
        if not isinstance(value, str) or not low <= len(value) <= high or not _PRINTABLE_ASCII.fullmatch(value):
            raise bad(field, f"must be {low} to {high} printable ASCII characters ({what}), got {value!r}")

    if values["type"] not in KNOWN_TYPES:
        raise bad("type", f"must be one of {', '.join(sorted(KNOWN_TYPES))}; got {values['type']!r}")
    host = values["host"]
    if not isinstance(host, str) or not _HOST.fullmatch(host):
        raise bad("host", f"must be a host name or IP address, got {host!r}")
    in_range("port", 1, 65535, whole=True)
    ascii_text("system_id", 1, 15, "SMPP 3.4 system_id")
    ascii_text("password", 0, 8, "SMPP 3.4 password")
    ascii_text("system_type", 0, 12, "SMPP 3.4 system_type")
    for flag in ("tls", "tls_verify", "registered_delivery", "enabled"):
        if not isinstance(values[flag], bool):
            raise bad(flag, f"must be true or false, got {values[flag]!r}")
    one_of("bind_mode", BIND_MODES)
    in_range("binds", 1, 64, whole=True)
    in_range("window", 1, 1000, whole=True)
    if values["tps"] is not None:
        in_range("tps", 0.001, 1_000_000, whole=False)
    for field in ("source_ton", "dest_ton"):
        in_range(field, TONS.start, TONS.stop - 1, whole=True)
    for field in ("source_npi", "dest_npi"):
        if not _is_int(values[field]) or values[field] not in NPIS:
            raise bad(field, f"must be an SMPP 3.4 NPI ({', '.join(map(str, NPIS))}), got {values[field]!r}")
    one_of("data_coding", DATA_CODINGS)
    one_of("long_message", LONG_MESSAGE_METHODS)
    in_range("enquire_link_seconds", 1, 3600, whole=False)
    in_range("response_timeout_seconds", 0.1, 300, whole=False)
    in_range("reconnect_min_seconds", 0.05, 3600, whole=False)
    in_range("reconnect_max_seconds", values["reconnect_min_seconds"], 3600, whole=False)
    in_range("bind_lease_seconds", 1, 3600, whole=False)
    in_range("mo_reassembly_seconds", 1, 86400, whole=False)
    _check_tlvs(values, bad)


def _check_tlvs(values: dict[str, Any], bad: Callable[[str, str], BadRequest]) -> None:
    tlvs = values["custom_tlvs"]
    if not isinstance(tlvs, dict):
        raise bad("custom_tlvs", "must map TLV tags to values")
    for tag, value in tlvs.items():
        if not _is_int(tag) or not 0 < tag <= 0xFFFF:
            raise bad("custom_tlvs", f"tags are 0x0001 to 0xFFFF, got {tag!r}")
        if tag in RESERVED_TLVS:
            raise bad("custom_tlvs", f"must not set 0x{tag:04X} ({RESERVED_TLVS[tag]}): the connector sets it")
        if not isinstance(value, bytes) or len(value) > MAX_TLV_VALUE:
            raise bad("custom_tlvs", f"values are at most {MAX_TLV_VALUE} bytes (tag 0x{tag:04X})")
    dlt = values["dlt_template_tlv"]
    if not _is_int(dlt) or not 0 <= dlt <= 0xFFFF:
        raise bad("dlt_template_tlv", f"must be a TLV tag from 0x0001 to 0xFFFF, or 0 for none; got {dlt!r}")
    if dlt in RESERVED_TLVS:
        raise bad("dlt_template_tlv", f"must not be 0x{dlt:04X} ({RESERVED_TLVS[dlt]}): the connector sets it")


def _check_name(name: Any, name_of: ParamName) -> str:
    param = name_of("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise BadRequest(
            f"{param} must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit; got {name!r}",
            param=param,
        )
    # ".json"/".xml" would read as the API's format suffix; a sid-shaped name as a sid.
    if name.lower() == SANDBOX or is_sid(name, CONNECTION_SID_PREFIX) or name.lower().endswith((".json", ".xml")):
        raise BadRequest(f"{param} {name!r} is reserved", param=param)
    return name


def _settings_of(row: CarrierConnection) -> dict[str, Any]:
    values = {field: getattr(row, field) for field in SETTING_DEFAULTS if field != "custom_tlvs"}
    values["custom_tlvs"] = {int(tag): bytes.fromhex(value) for tag, value in row.custom_tlvs.items()}
    values["type"] = row.type
    values["enabled"] = row.enabled
    return values


def _apply(row: CarrierConnection, values: Mapping[str, Any]) -> None:
    for field in SETTING_DEFAULTS:
        if field != "custom_tlvs":
            setattr(row, field, values[field])
    row.custom_tlvs = {str(tag): value.hex() for tag, value in sorted(values["custom_tlvs"].items())}
    row.type = values["type"]
    row.enabled = values["enabled"]


_FLOAT_FIELDS = tuple(field for field, default in SETTING_DEFAULTS.items() if isinstance(default, float))


def _normalise(values: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(values)
    if _is_int(out.get("tps")):
        out["tps"] = float(out["tps"])
    for field in _FLOAT_FIELDS:
        if _is_int(out.get(field)):
            out[field] = float(out[field])
    if isinstance(out.get("host"), str):
        out["host"] = out["host"].strip()
    return out


def _unknown(values: Mapping[str, Any]) -> None:
    allowed = {*SETTING_DEFAULTS, "name", "password", "type", "enabled"}
    extra = sorted(set(values) - allowed)
    if extra:  # a programming error of the caller, not a client's
        raise TypeError(f"unknown carrier connection fields: {extra}")


async def create_connection(
    session: AsyncSession, box: SecretBox, values: Mapping[str, Any], *, name_of: ParamName = api_param
) -> CarrierConnection:
    """Store a new connection from ``values``; a taken name → Conflict."""
    _unknown(values)
    name = _check_name(values.get("name"), name_of)
    for field in REQUIRED:
        if values.get(field) is None:
            raise BadRequest(f"{name_of(field)} is required", param=name_of(field))
    merged = {**SETTING_DEFAULTS, "type": "smpp", "enabled": True, **_normalise(values)}
    _check(merged, name_of)
    repo = ConnectionRepository(session)
    if await repo.get_by_name(name) is not None:
        raise _taken(name, name_of)
    now = utcnow()
    row = CarrierConnection(
        sid=new_sid(CONNECTION_SID_PREFIX),
        name=name,
        password_encrypted=box.encrypt(merged["password"]),
        date_created=now,
        date_updated=now,
    )
    _apply(row, merged)
    try:
        await repo.add(row)
    except IntegrityError:
        raise _taken(name, name_of) from None  # a concurrent create took the name meanwhile
    return row


def _taken(name: str, name_of: ParamName) -> Conflict:
    return Conflict(f"A carrier connection named {name!r} already exists", param=name_of("name"), code=CARRIER_TAKEN)


async def update_connection(
    session: AsyncSession,
    box: SecretBox,
    row: CarrierConnection,
    changes: Mapping[str, Any],
    *,
    name_of: ParamName = api_param,
) -> CarrierConnection:
    """Apply ``changes`` (validated together with what is kept); the name never changes."""
    _unknown(changes)
    if "name" in changes and changes["name"] != row.name:
        raise BadRequest(f"{name_of('name')} cannot change: routes refer to it", param=name_of("name"))
    merged = {**_settings_of(row), "password": box.decrypt(row.password_encrypted), **_normalise(changes)}
    merged.pop("name", None)
    _check(merged, name_of)
    _apply(row, merged)
    if "password" in changes:
        row.password_encrypted = box.encrypt(merged["password"])
    # Monotonic per row even if two nodes' clocks disagree: the registry reloads on any change.
    row.date_updated = max(utcnow(), row.date_updated)
    await session.flush()
    return row


async def remove_connection(session: AsyncSession, row: CarrierConnection) -> None:
    """Delete ``row``; refused (Conflict) while routes still send to it."""
    used_by = await RouteRepository(session).count(row.name)
    if used_by:
        raise Conflict(
            f"Carrier {row.name!r} is used by {used_by} route(s); remove them first", param="Name", code=CARRIER_TAKEN
        )
    await ConnectionRepository(session).delete(row)


async def get_connection(session: AsyncSession, name_or_sid: str) -> CarrierConnection:
    repo = ConnectionRepository(session)
    row = await repo.get(name_or_sid) if is_sid(name_or_sid, CONNECTION_SID_PREFIX) else None
    row = row or await repo.get_by_name(name_or_sid)
    if row is None:
        raise NotFound(f"Carrier {name_or_sid} not found")
    return row


async def list_connections(session: AsyncSession, page: PageRequest) -> tuple[int, list[CarrierConnection]]:
    repo = ConnectionRepository(session)
    total = await repo.count()
    ensure_page_exists(page, total)
    return total, await repo.page(offset=page.offset, limit=page.page_size)


async def all_connections(session: AsyncSession) -> list[CarrierConnection]:
    return await ConnectionRepository(session).all()


def to_smpp_config(row: CarrierConnection, box: SecretBox) -> SmppConfig:
    """The stored connection as the SMPP connector's configuration (password decrypted)."""
    values = _settings_of(row)
    del values["type"], values["enabled"]
    return SmppConfig(name=row.name, password=box.decrypt(row.password_encrypted), **values)


# --- routes -------------------------------------------------------------------------------


def normalise_prefix(raw: str, *, param: str = "Prefix") -> str:
    """``"+44 20"`` → ``"4420"``: the E.164 digits a route matches; ``""`` matches every number."""
    text = re.sub(r"[ ()./-]", "", raw.strip()).removeprefix("+")
    if not re.fullmatch(r"[0-9]{0,15}", text):
        raise BadRequest(f"{param} must be up to 15 digits of an E.164 number (optional +), got {raw!r}", param=param)
    return text


async def add_route(
    session: AsyncSession,
    *,
    carrier: str,
    prefix: str = "",
    channel: str = "*",
    priority: int = 0,
    name_of: ParamName = api_param,
) -> CarrierRoute:
    """A route to ``carrier`` (an existing connection, or ``sandbox``); the same route twice → Conflict."""
    channel = channel.strip().lower()
    if channel not in CHANNELS:
        raise BadRequest(f"{name_of('channel')} must be sms, mms or *; got {channel!r}", param=name_of("channel"))
    digits = normalise_prefix(prefix, param=name_of("prefix"))
    if not _is_int(priority) or not 0 <= priority <= MAX_ROUTE_PRIORITY:
        raise BadRequest(
            f"{name_of('priority')} must be a whole number from 0 to {MAX_ROUTE_PRIORITY}", param=name_of("priority")
        )
    if carrier != SANDBOX and await ConnectionRepository(session).get_by_name(carrier) is None:
        raise BadRequest(f"{name_of('carrier')}: no carrier connection named {carrier!r}", param=name_of("carrier"))
    repo = RouteRepository(session)
    conflict = Conflict(
        f"A route for {channel} prefix {digits or '(any)'} to {carrier} already exists", code=CARRIER_TAKEN
    )
    if await repo.find(channel, digits, carrier) is not None:
        raise conflict
    now = utcnow()
    route = CarrierRoute(
        sid=new_sid(ROUTE_SID_PREFIX),
        channel=channel,
        prefix=digits,
        priority=priority,
        carrier=carrier,
        date_created=now,
        date_updated=now,
    )
    try:
        await repo.add(route)
    except IntegrityError:
        raise conflict from None
    return route


async def get_route(session: AsyncSession, sid: str) -> CarrierRoute:
    route = await RouteRepository(session).get(sid) if is_sid(sid, ROUTE_SID_PREFIX) else None
    if route is None:
        raise NotFound(f"Carrier route {sid} not found")
    return route


async def remove_route(session: AsyncSession, route: CarrierRoute) -> None:
    await RouteRepository(session).delete(route)


async def list_routes(session: AsyncSession, page: PageRequest) -> tuple[int, list[CarrierRoute]]:
    repo = RouteRepository(session)
    total = await repo.count()
    ensure_page_exists(page, total)
    return total, await repo.page(offset=page.offset, limit=page.page_size)


@dataclass(frozen=True, slots=True)
class RouteRule:
    """A route as routing sees it (the registry keeps these in memory)."""

    channel: str
    prefix: str
    priority: int
    carrier: str


def order_routes(routes: Iterable[RouteRule | CarrierRoute]) -> list[str]:
    """Matching routes → carrier names, best first (see the module docstring), each once."""
    ranked = sorted(routes, key=lambda r: (-len(r.prefix), r.priority, r.channel == "*", r.carrier))
    return list(dict.fromkeys(route.carrier for route in ranked))


def _digits(to_address: str) -> str | None:
    digits = to_address.removeprefix("+")
    return digits if digits.isdigit() else None


def resolve(rules: Iterable[RouteRule], connections_exist: bool, channel: str, to_address: str) -> list[str]:
    """:func:`routes_for` over routes already in memory (the registry's snapshot of the table)."""
    digits = _digits(to_address) or ""  # a non-numeric address matches only the "" prefix
    matching = [r for r in rules if r.channel in (channel, "*") and digits.startswith(r.prefix)]
    if matching:
        return order_routes(matching)
    return [] if connections_exist else [SANDBOX]


async def routing_snapshot(session: AsyncSession) -> tuple[list[RouteRule], bool]:
    """Every route, and whether any carrier connection exists: what :func:`resolve` needs."""
    routes = await RouteRepository(session).all()
    rules = [RouteRule(r.channel, r.prefix, r.priority, r.carrier) for r in routes]
    return rules, await ConnectionRepository(session).any_exists()


async def routes_for(session: AsyncSession, channel: str, to_address: str) -> list[str]:
    """The carriers to try for a message on ``channel`` to ``to_address``, best first."""
    digits = _digits(to_address)
    prefixes = [digits[:n] for n in range(len(digits) + 1)] if digits else [""]
    routes = await RouteRepository(session).candidates(channel, prefixes)
    if routes:
        return order_routes(routes)
    if await ConnectionRepository(session).any_exists():
        return []
    return [SANDBOX]
