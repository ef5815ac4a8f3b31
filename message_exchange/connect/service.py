"""Services and their keys, templates, smart link definitions, contact policy groups and
consent records: what an operator (CLI) or an account (admin API) manages. Never commits.

A service key is a random 128-bit value shown once (create, rotate); only its SHA-256 is
stored, so a request's ``key`` header is found with one indexed lookup.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from message_exchange.accounts import service as accounts
from message_exchange.accounts.models import Account, AccountStatus
from message_exchange.connect import codes
from message_exchange.connect.models import (
    SERVICE_PREFIX,
    TEMPLATE_PREFIX,
    ConnectConsent,
    ConnectEvent,
    ConnectLinkDefinition,
    ConnectPolicyGroup,
    ConnectService,
    ConnectShortLink,
    ConnectTemplate,
    ConnectTransaction,
)
from message_exchange.connect.repository import ConnectRepository
from message_exchange.core.errors import BadRequest, NotFound
from message_exchange.core.sids import is_sid, new_sid
from message_exchange.db.base import utcnow
from message_exchange.messages.addresses import parse_e164
from message_exchange.messages.models import Message
from message_exchange.numbers.service import find_by_phone_number
from message_exchange.webhooks.guard import WebhookRefused, check_url_syntax

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_.\-]+)\s*\}\}")
LINK_PREFIX = "link_"
_SENDER_ID = re.compile(r"^(\+[1-9]\d{6,14}|[A-Za-z0-9 ]{1,11}|\d{3,8})$")
_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
CHANNELS = ("sms",)
CONSENTS = ("opt_in", "opt_out")


_CODE = re.compile(r"^[A-Za-z0-9_-]{1,16}$")
_GROUP = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_TRANSID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def is_transid(value: str) -> bool:
    return _TRANSID.match(value) is not None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def template_parameters(text: str) -> list[str]:
    """The ``{{name}}`` parameters of ``text`` in first-use order (smart links excluded)."""
    names: list[str] = []
    for name in PLACEHOLDER.findall(text):
        if not name.startswith(LINK_PREFIX) and name not in names:
            names.append(name)
    return names


def _url(value: str | None, param: str) -> str | None:
    if value is None or not value.strip():
        return None
    try:
        check_url_syntax(value.strip())
    except WebhookRefused as exc:
        raise BadRequest(f"{param}: {exc.message}", param=param) from None
    if len(value) > 2048:
        raise BadRequest(f"{param} is longer than 2048 characters", param=param)
    return value.strip()


async def sender_number_problem(session: AsyncSession, account_sid: str, sender: str) -> str | None:
    """Why an E.164 ``sender`` may not be used by ``account_sid`` (None: it may).

    As on the Messages API (21606), a number sender must be an SMS-capable number of the
    account: nobody sends from another tenant's number.
    """
    number = await find_by_phone_number(session, sender)
    if number is None or number.account_sid != account_sid or not number.sms_capable:
        return f"{sender} is not an SMS-capable number of account {account_sid}"
    return None


async def _sender_ids(
    session: AsyncSession, account_sid: str, values: list[str] | None, *, operator: bool
) -> list[str]:
    """Validated sender ids: alphanumeric ids, the account's own numbers, and short codes —
    which the operator assigns (CLI), since no table says which account owns a short code."""
    cleaned: list[str] = []
    for given in values or []:
        if not isinstance(given, str) or not _SENDER_ID.match(given.strip()):
            raise BadRequest(
                "sender_ids are E.164 numbers, short codes (3-8 digits) or alphanumeric ids of up to 11 "
                f"characters [A-Za-z0-9 ], got {given!r}",
                param="sender_ids",
            )
        value = given.strip()
        if value.startswith("+"):
            problem = await sender_number_problem(session, account_sid, value)
            if problem is not None:
                raise BadRequest(f"sender_ids: {problem}", param="sender_ids", code=21606)
        elif value.isdigit() and not operator:
            raise BadRequest(
                f"sender_ids: short code {value} can only be assigned by the operator (mx connect services)",
                param="sender_ids",
            )
        if value not in cleaned:
            cleaned.append(value)
    return cleaned


def _identifier(value: str, param: str) -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise BadRequest(f"{param} must be 1-64 characters [A-Za-z0-9_.-]", param=param)
    return value


# -- services ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    name: str | None = None
    notify_url: str | None = None
    sender_ids: list[str] | None = None
    status: str | None = None


async def create_service(
    session: AsyncSession, account: Account, spec: ServiceSpec, *, operator: bool = False
) -> tuple[ConnectService, str]:
    """A new service of ``account`` and its key (shown only now); ``operator``: the CLI."""
    name = (spec.name or "").strip()
    if not name or len(name) > 64:
        raise BadRequest("name is required (up to 64 characters)", param="name")
    key = str(uuid.uuid4())
    now = utcnow()
    service = ConnectService(
        sid=new_sid(SERVICE_PREFIX),
        account_sid=account.sid,
        name=name,
        key_hash=hash_key(key),
        key_hint=key[-4:],
        notify_url=_url(spec.notify_url, "notify_url"),
        sender_ids=await _sender_ids(session, account.sid, spec.sender_ids, operator=operator),
        status="active",
        date_created=now,
        date_updated=now,
    )
    await ConnectRepository(session).add(service)
    return service, key


async def update_service(
    session: AsyncSession, service: ConnectService, spec: ServiceSpec, *, operator: bool = False
) -> ConnectService:
    if spec.name is not None:
        if not spec.name.strip() or len(spec.name.strip()) > 64:
            raise BadRequest("name must be 1 to 64 characters", param="name")
        service.name = spec.name.strip()
    if spec.notify_url is not None:
        service.notify_url = _url(spec.notify_url, "notify_url")
    if spec.sender_ids is not None:
        service.sender_ids = await _sender_ids(session, service.account_sid, spec.sender_ids, operator=operator)
    if spec.status is not None:
        if spec.status not in ("active", "disabled"):
            raise BadRequest("status must be active or disabled", param="status")
        service.status = spec.status
    service.date_updated = utcnow()
    await session.flush()
    return service


async def rotate_key(session: AsyncSession, service: ConnectService) -> str:
    """A new key for ``service``; the old one stops working when this commits."""
    key = str(uuid.uuid4())
    service.key_hash = hash_key(key)
    service.key_hint = key[-4:]
    service.date_updated = utcnow()
    await session.flush()
    return key


async def service_for_key(session: AsyncSession, key: str | None) -> ConnectService:
    """The active service ``key`` opens (of an active account); 7002 / 7001 otherwise."""
    if key is None or not key.strip():
        raise codes.ConnectError(codes.KEY_MISSING, "Service Key Missing", param="key")
    service = await ConnectRepository(session).service_by_key_hash(hash_key(key.strip()))
    if service is None or service.status != "active":
        raise codes.ConnectError(codes.AUTH_FAILED, "Authentication failed", param="key")
    try:
        owner = await accounts.get_by_sid(session, service.account_sid)
    except NotFound:
        owner = None
    if owner is None or owner.status != AccountStatus.ACTIVE:
        raise codes.ConnectError(codes.AUTH_FAILED, "Authentication failed", param="key")
    return service


async def get_service(session: AsyncSession, caller: Account, account_sid: str, sid: str) -> ConnectService:
    """A service of a visible account; anything else → 404 (existence is not leaked)."""
    account = await accounts.get_visible(session, caller, account_sid)
    service = await ConnectRepository(session).service(sid) if is_sid(sid, SERVICE_PREFIX) else None
    if service is None or service.account_sid != account.sid:
        raise NotFound(f"Service {sid} not found")
    return service


async def find_service(session: AsyncSession, sid: str) -> ConnectService:
    service = await ConnectRepository(session).service(sid) if is_sid(sid, SERVICE_PREFIX) else None
    if service is None:
        raise NotFound(f"Service {sid} not found")
    return service


async def list_services(session: AsyncSession, account_sid: str | None) -> list[ConnectService]:
    return await ConnectRepository(session).services_of(None if account_sid is None else [account_sid])


# -- templates and smart links ------------------------------------------------------------


async def put_template(session: AsyncSession, service: ConnectService, template_id: str, text: str) -> ConnectTemplate:
    """Create or replace a template (``{{name}}`` parameters)."""
    _identifier(template_id, "template_id")
    if not isinstance(text, str) or not text.strip():
        raise BadRequest("text is required", param="text")
    if len(text) > 1024:
        raise BadRequest("text takes at most 1024 characters", param="text")
    repo = ConnectRepository(session)
    now = utcnow()
    template = await repo.template(service.sid, template_id)
    if template is None:
        template = ConnectTemplate(
            sid=new_sid(TEMPLATE_PREFIX),
            service_sid=service.sid,
            template_id=template_id,
            text=text,
            parameters=template_parameters(text),
            date_created=now,
            date_updated=now,
        )
        await repo.add(template)
        return template
    template.text = text
    template.parameters = template_parameters(text)
    template.date_updated = now
    await session.flush()
    return template


async def delete_template(session: AsyncSession, service: ConnectService, template_id: str) -> None:
    if not _ID.match(template_id) or not await ConnectRepository(session).delete_templates(service.sid, [template_id]):
        raise NotFound(f"Template {template_id} not found")


async def templates(session: AsyncSession, service: ConnectService) -> list[ConnectTemplate]:
    return await ConnectRepository(session).templates(service.sid)


async def put_link(session: AsyncSession, service: ConnectService, link_id: str, url: str) -> ConnectLinkDefinition:
    """Create or replace a smart link definition (``{{link_<id>}}`` in a text)."""
    _identifier(link_id, "link_id")
    target = _url(url, "url")
    if target is None:
        raise BadRequest("url is required", param="url")
    repo = ConnectRepository(session)
    now = utcnow()
    link = await repo.link_definition(service.sid, link_id)
    if link is None:
        link = ConnectLinkDefinition(
            service_sid=service.sid, link_id=link_id, target_url=target, date_created=now, date_updated=now
        )
        await repo.add(link)
        return link
    link.target_url = target
    link.date_updated = now
    await session.flush()
    return link


async def link_definitions(session: AsyncSession, service: ConnectService) -> list[ConnectLinkDefinition]:
    return await ConnectRepository(session).link_definitions(service.sid)


async def link_totals(session: AsyncSession, service: ConnectService) -> dict[str, tuple[int, int]]:
    return await ConnectRepository(session).link_totals(service.sid)


async def short_links(
    session: AsyncSession, service: ConnectService, *, transid: str | None, link_id: str | None
) -> list[ConnectShortLink]:
    if (transid is not None and not is_transid(transid)) or (link_id is not None and not _ID.match(link_id)):
        return []
    return await ConnectRepository(session).short_links(service.sid, transid=transid, link_id=link_id)


@dataclass(frozen=True, slots=True)
class TransactionStatus:
    transaction: ConnectTransaction
    message: Message
    events: list[ConnectEvent]  # the notifications so far, oldest first
    links: list[ConnectShortLink]


async def transaction_status(session: AsyncSession, service: ConnectService, transid: str) -> TransactionStatus:
    """One of the service's transactions with its message, notifications and short links; a
    malformed, unknown or other service's transid is the API's invalid-value error."""
    repo = ConnectRepository(session)
    found = await repo.transaction_with_message(transid) if is_transid(transid) else None
    if found is None or found[0].service_sid != service.sid:
        raise codes.ConnectError(codes.INVALID_VALUE, f"Invalid parameters/Values: transid {transid} not found")
    txn, message = found
    events = await repo.events_of(message.sid)
    return TransactionStatus(txn, message, events, await repo.short_links(service.sid, transid=transid))


@dataclass(frozen=True, slots=True)
class Click:
    target_url: str | None  # None: the link has expired
    clicks: int


async def click(session: AsyncSession, code: str) -> Click:
    """Follow a short link: count the click and give its target; unknown → 404, expired → 410."""
    repo = ConnectRepository(session)
    link = await repo.short_link(code) if _CODE.match(code) else None
    if link is None:
        raise NotFound("No such link")
    now = utcnow()
    if link.expires_at <= now:
        return Click(None, link.clicks)
    await repo.count_click(code, now)
    return Click(link.target_url, link.clicks + 1)


# -- contact policy -----------------------------------------------------------------------


async def create_group(
    session: AsyncSession, account: Account, name: str, cap_count: int | None, cap_period_seconds: int | None
) -> ConnectPolicyGroup:
    """A policy group; a frequency cap is ``cap_count`` messages per ``cap_period_seconds``."""
    if not name or not name.strip() or len(name) > 64:
        raise BadRequest("name is required (up to 64 characters)", param="name")
    if (cap_count is None) != (cap_period_seconds is None):
        raise BadRequest("give cap_count and cap_period_seconds together", param="cap_count")
    if cap_count is not None and (cap_count < 1 or cap_period_seconds is None or cap_period_seconds < 1):
        raise BadRequest("cap_count and cap_period_seconds must be positive", param="cap_count")
    now = utcnow()
    group = ConnectPolicyGroup(
        id=secrets.token_urlsafe(16),
        account_sid=account.sid,
        name=name.strip(),
        cap_count=cap_count,
        cap_period_seconds=cap_period_seconds,
        date_created=now,
        date_updated=now,
    )
    await ConnectRepository(session).add(group)
    return group


async def get_group(session: AsyncSession, account: Account, group_id: str) -> ConnectPolicyGroup:
    group = await ConnectRepository(session).policy_group(group_id) if _GROUP.match(group_id) else None
    if group is None or group.account_sid != account.sid:
        raise NotFound(f"Policy group {group_id} not found")
    return group


async def groups(session: AsyncSession, account: Account) -> list[ConnectPolicyGroup]:
    return await ConnectRepository(session).policy_groups(account.sid)


async def record_consent(
    session: AsyncSession, group: ConnectPolicyGroup, msisdn: str, consent: str, channel: str = "sms"
) -> ConnectConsent:
    """Record an opt-in or opt-out of ``msisdn`` in ``group`` (the latest record decides)."""
    if consent not in CONSENTS:
        raise BadRequest("consent must be opt_in or opt_out", param="consent")
    if channel not in CHANNELS:
        raise BadRequest(f"channel must be one of {', '.join(CHANNELS)}", param="channel")
    record = ConnectConsent(
        account_sid=group.account_sid,
        group_id=group.id,
        msisdn=parse_e164(msisdn, param="msisdn"),
        channel=channel,
        consent=consent,
        source="api",
        number=None,
        recorded_at=utcnow(),
    )
    await ConnectRepository(session).add(record)
    return record


async def consent_history(session: AsyncSession, group: ConnectPolicyGroup, msisdn: str) -> list[ConnectConsent]:
    return await ConnectRepository(session).consents(group.account_sid, parse_e164(msisdn, param="msisdn"), group.id)


def short_url(base_url: str, code: str) -> str:
    return f"{base_url.rstrip('/')}/l/{code}"


def expiry_of(created: datetime, validity_days: int) -> datetime:
    return created + timedelta(days=validity_days)
