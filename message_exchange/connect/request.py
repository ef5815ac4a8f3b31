"""The Messaging API v1 request body, validated: every documented code, nothing written.

Where the document contradicts itself it is served both ways: ``smartlinks`` and
``contactPolicy`` are read under ``channels`` (the samples) or at the top level, and an
msisdn may be written without its ``+`` (the second sample). A destination entry may also
carry ``parameters`` for its own template values (personalised batches, our extension).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from message_exchange.connect import codes
from message_exchange.connect.codes import ConnectError, invalid, missing
from message_exchange.connect.models import ConnectService
from message_exchange.connect.repository import ConnectRepository
from message_exchange.connect.service import sender_number_problem
from message_exchange.core.errors import BadRequest
from message_exchange.messages.addresses import parse_e164

MAX_DESTINATIONS = 1000
MAX_TEXT = 1024
MAX_BINARY_OCTETS = 1120  # a type 3 body: 2,240 hex digits, nine parts of 134 octets
MAX_CORRELATION_BYTES = 50
SMS_TYPES = {"1": "text", "2": "flash", "3": "binary", "4": "unicode"}
# Channels of the platform this product does not carry: a clear 7004, never silence.
UNSUPPORTED_CHANNELS = frozenset(
    {"voice", "push", "rt", "appmessaging", "fb", "applebusinesschat", "whatsapp", "wa", "ott-messaging", "email"}
)
DEFAULT_LINK_VALIDITY_DAYS = 30
MAX_LINK_VALIDITY_DAYS = 365
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_HEX = re.compile(r"^(?:[0-9A-Fa-f]{2})+$")
_OFFSET = re.compile(r"([+-])(\d):?(\d\d)$")


@dataclass(frozen=True, slots=True)
class Destination:
    msisdn: str
    correlationid: str | None
    parameters: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Policy:
    group_id: str
    check_consent: bool
    apply_cap: bool


@dataclass(slots=True)
class Request:
    """A validated request, ready to accept."""

    text: str
    template_id: str | None
    parameters: dict[str, str]
    sender: str
    sms_type: str
    extras: dict[str, Any]
    destinations: list[Destination]
    callback_data: str | None = None
    notify_url: str | None = None
    expires_at: datetime | None = None
    links: dict[str, int] = field(default_factory=dict)  # link id → validity days
    link_targets: dict[str, str] = field(default_factory=dict)
    policy: Policy | None = None


def _object(value: Any, param: str, where: str = "") -> dict[str, Any]:
    if value is None:
        raise missing(param, where)
    if not isinstance(value, dict):
        raise invalid(param, "must be a JSON object")
    return value


def _text(value: Any, param: str, *, limit: int | None = None, limit_bytes: int | None = None) -> str | None:
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise invalid(param, "must be a string")
    if limit is not None and len(value) > limit:
        raise invalid(param, f"takes at most {limit} characters")
    if limit_bytes is not None and len(value.encode("utf-8")) > limit_bytes:
        raise invalid(param, f"takes at most {limit_bytes} bytes")
    return value


def parse_expiry(value: str) -> datetime:
    """``2015-04-12T13:00:19.456Z`` or ``…+5:30`` (the document's own one-digit offset)."""
    text = _OFFSET.sub(lambda m: f"{m.group(1)}0{m.group(2)}:{m.group(3)}", value.strip())
    text = re.sub(r"([+-])(\d\d)(\d\d)$", r"\1\2:\3", text)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise invalid("expiry", "must be a UTC date-time such as 2015-04-12T13:00:19.456Z") from None


def _msisdn(value: Any) -> str:
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise ConnectError(codes.INVALID_ADDRESS, f"Invalid address: {value!r}", param="msisdn")
    raw = str(value).strip()
    if raw.isdigit():
        raw = "+" + raw  # older tenants' form (the document's second sample)
    try:
        return parse_e164(raw, param="msisdn")
    except BadRequest:
        raise ConnectError(codes.INVALID_ADDRESS, f"Invalid address: {value!r}", param="msisdn") from None


def _parameters(value: Any, param: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid(param, "must be a JSON object")
    out: dict[str, str] = {}
    for key, item in value.items():
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise invalid(f"{param}.{key}", "must be a string")
        out[str(key)] = str(item)
    return out


def _destinations(value: Any) -> list[Destination]:
    if value is None:
        raise missing("destination")
    if not isinstance(value, list):
        raise invalid("destination", "must be a JSON array")
    if not value:
        raise missing("destination")
    out: list[Destination] = []
    for index, entry in enumerate(value):
        if not isinstance(entry, dict):
            raise invalid(f"destination[{index}]", "must be a JSON object")
        msisdns = entry.get("msisdn")
        if msisdns is None:
            others = sorted(k for k in entry if k not in ("correlationid", "parameters"))
            if others:
                raise invalid(f"destination[{index}]", f"{others[0]} is not carried here: only msisdn (SMS)")
            raise ConnectError(codes.PARAM_MISSING, "any one of [msisdn] is mandatory", param="msisdn")
        if isinstance(msisdns, str | int) and not isinstance(msisdns, bool):
            msisdns = [msisdns]
        if not isinstance(msisdns, list) or not msisdns:
            raise ConnectError(codes.PARAM_MISSING, "any one of [msisdn] is mandatory", param="msisdn")
        correlationid = _text(
            entry.get("correlationid"), f"destination[{index}].correlationid", limit_bytes=MAX_CORRELATION_BYTES
        )
        params = _parameters(entry.get("parameters"), f"destination[{index}].parameters")
        for item in msisdns:
            out.append(Destination(_msisdn(item), correlationid, params))
            if len(out) > MAX_DESTINATIONS:
                raise invalid("destination", f"takes at most {MAX_DESTINATIONS} destinations in one request")
    return out


def _channel(body: Mapping[str, Any]) -> None:
    channel = body.get("deliverychannel")
    if channel is None or channel == "":
        raise missing("deliverychannel")
    if not isinstance(channel, str):
        raise invalid("deliverychannel", "must be a string")
    name = channel.strip().lower()
    if name in UNSUPPORTED_CHANNELS:
        raise ConnectError(
            codes.INVALID_VALUE,
            f"Invalid parameters/Values: deliverychannel '{channel}' is not supported here; this platform carries sms",
            param="deliverychannel",
        )
    if name != "sms":
        raise invalid("deliverychannel", f"'{channel}' is not a channel (sms)")


async def _sms_text(
    repo: ConnectRepository, service: ConnectService, sms: Mapping[str, Any], sms_type: str, template_id: str | None
) -> str:
    if sms_type == "3":
        hex_body = _text(sms.get("body"), "body", limit=2 * MAX_BINARY_OCTETS)
        if not hex_body:
            raise missing("body", " for channel sms")
        if not _HEX.match(hex_body):
            raise invalid("body", "must be hexadecimal (type 3, binary)")
        return hex_body.upper()
    text = _text(sms.get("text"), "text")
    if not text and template_id:
        template = await repo.template(service.sid, template_id)
        if template is None:
            raise invalid("message.template", f"'{template_id}' is not a template of this service")
        text = template.text
    if not text:
        raise missing("text", " for channel sms")
    if len(text) > MAX_TEXT:
        raise ConnectError(codes.TOO_LONG, f"Message too long: text takes at most {MAX_TEXT} characters", param="text")
    return text


async def _sender(session: AsyncSession, service: ConnectService, sms: Mapping[str, Any]) -> str:
    """The request's sender id: one of the service's; a number must still be the account's."""
    sender = _text(sms.get("senderid"), "senderid", limit=32)
    if sender is None:
        if not service.sender_ids:
            raise ConnectError(codes.INVALID_SENDER, "Invalid Sender ID: the service has none", param="senderid")
        sender = service.sender_ids[0]
    sender = sender.strip()
    if sender not in service.sender_ids:
        raise ConnectError(codes.INVALID_SENDER, f"Invalid Sender ID: {sender}", param="senderid")
    if sender.startswith("+"):
        # Checked again at send time: the number may have been released since it was configured.
        problem = await sender_number_problem(session, service.account_sid, sender)
        if problem is not None:
            raise ConnectError(codes.INVALID_SENDER, f"Invalid Sender ID: {problem}", param="senderid")
    return sender


async def _smartlinks(repo: ConnectRepository, service: ConnectService, value: Any, request: Request) -> None:
    if value is None or request.sms_type == "3":
        return
    if not isinstance(value, list):
        raise invalid("smartlinks", "must be a JSON array")
    for entry in value:
        if not isinstance(entry, dict) or entry.get("linkid") in (None, ""):
            raise missing("linkid", " in smartlinks")
        link_id = str(entry["linkid"])
        validity = entry.get("validity", DEFAULT_LINK_VALIDITY_DAYS)
        if isinstance(validity, bool) or not isinstance(validity, int) or not 1 <= validity <= MAX_LINK_VALIDITY_DAYS:
            raise invalid("validity", f"must be a whole number of days from 1 to {MAX_LINK_VALIDITY_DAYS}")
        definition = await repo.link_definition(service.sid, link_id)
        if definition is None:
            raise invalid("linkid", f"{link_id} is not a smart link of this service")
        request.links[link_id] = validity
        request.link_targets[link_id] = definition.target_url


async def _policy(repo: ConnectRepository, service: ConnectService, value: Any) -> Policy | None:
    if value is None:
        return None
    policy = _object(value, "contactPolicy")
    check, cap = policy.get("channelCheckConsent", False), policy.get("channelApplyFrequencyCap", False)
    if not isinstance(check, bool) or not isinstance(cap, bool):
        raise invalid("contactPolicy", "channelCheckConsent and channelApplyFrequencyCap are true or false")
    if not (check or cap):
        return None
    group_id = _text(policy.get("contactPolicyGroup"), "contactPolicyGroup", limit=32)
    if not group_id:
        raise missing("contactPolicyGroup")
    group = await repo.policy_group(group_id)
    if group is None or group.account_sid != service.account_sid:
        raise invalid("contactPolicyGroup", f"'{group_id}' is not a policy group of this account")
    return Policy(group.id, check, cap)


async def parse_request(session: AsyncSession, service: ConnectService, body: Any) -> Request:
    """Validate everything (the documented codes); nothing is written here."""
    if not isinstance(body, dict):
        raise ConnectError(codes.INVALID_JSON, "Invalid JSON")
    _channel(body)
    channels = _object(body.get("channels"), "channels")
    sms = _object(channels.get("sms"), "sms", " for channel sms")
    raw_type = sms.get("type")
    sms_type = "1" if raw_type is None else str(raw_type).strip() or "1"  # absent, null or "" → text
    if sms_type not in SMS_TYPES:
        raise invalid("type", "must be 1 (text), 2 (flash), 3 (binary) or 4 (unicode)")
    repo = ConnectRepository(session)
    template_id: str | None = None
    parameters: dict[str, str] = {}
    if body.get("message") is not None:
        message = _object(body.get("message"), "message")
        template_id = _text(message.get("template"), "message.template", limit=64)
        parameters = _parameters(message.get("parameters"), "message.parameters")
    text = await _sms_text(repo, service, sms, sms_type, template_id)
    extras = sms.get("extras") or {}
    if not isinstance(extras, dict):
        raise invalid("extras", "must be a JSON object")
    _text(extras.get("dlt_templateid"), "extras.dlt_templateid", limit=64)
    request = Request(
        text=text,
        template_id=template_id,
        parameters=parameters,
        sender=await _sender(session, service, sms),
        sms_type=sms_type,
        extras=extras,
        destinations=[],
        callback_data=_text(body.get("callbackData"), "callbackData", limit=1024),
        notify_url=_text(body.get("notifyurl"), "notifyurl", limit=2048) or service.notify_url,
    )
    top_correlation = _text(body.get("correlationid"), "correlationid", limit_bytes=MAX_CORRELATION_BYTES)
    expiry = _text(body.get("expiry"), "expiry", limit=64)
    request.expires_at = parse_expiry(expiry) if expiry else None
    await _smartlinks(repo, service, channels.get("smartlinks", body.get("smartlinks")), request)
    request.policy = await _policy(repo, service, channels.get("contactPolicy", body.get("contactPolicy")))
    request.destinations = [
        Destination(d.msisdn, d.correlationid or top_correlation, d.parameters)
        for d in _destinations(body.get("destination"))
    ]
    return request
