"""Enterprises and mappings of the Webex exchange. Never commits; knows no HTTP.

Tenancy: a caller sees what its own account and its descendants created. Another CSP's
enterprise or mapping is answered with the documented "not found" code of the operation
(467, 471, 478, 481, 485, 490, 491) exactly as an unknown sid is. Names are unique per CSP
organisation (the root of the caller's account tree).

A mapping's externalAddress is an incoming number: one the caller's tree already owns is
used, an unowned one is provisioned to the caller (and released again when the mapping is
deleted); either way it is SMS- and MMS-enabled and from then on routed to the exchange
(:mod:`message_exchange.webex.bridge`). A number another tenant owns, or that another live
mapping uses, is "in use" (466).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from message_exchange.accounts import service as accounts
from message_exchange.accounts.models import Account
from message_exchange.core.errors import BadRequest, Conflict, NotFound
from message_exchange.core.sids import new_sid
from message_exchange.db.base import utcnow
from message_exchange.exchange.listing import ListQuery, listing
from message_exchange.exchange.models import ExchangeMessage
from message_exchange.exchange.repository import ExchangeRepository, RecordFilter
from message_exchange.exchange.service import release_number
from message_exchange.numbers import service as numbers
from message_exchange.webex import errors
from message_exchange.webex.errors import WebexError
from message_exchange.webex.models import SID_PREFIX, Enterprise, Mapping, Status
from message_exchange.webex.repository import (
    EnterpriseFilter,
    EnterpriseRow,
    MappingFilter,
    MappingRow,
    WebexRepository,
)

MAX_NAME = 255
MAX_ADDRESSES = 50
# An email, or a Webex person id (base64url-ish): no spaces, commas or control characters.
_ADDRESS = re.compile(r"[^\s,<>\"']{1,254}")


def org_of(account: Account) -> str:
    """The CSP organisation an account belongs to: the root of its tree."""
    return account.lineage.strip("/").split("/")[0]


def _name(value: str | None, *, param: str = "name", required: bool = True) -> str | None:
    if value is None or not value.strip():
        if required:
            raise BadRequest(f"{param} is required", param=param)
        return None
    text = value.strip()
    if len(text) > MAX_NAME or any(ord(ch) < 32 for ch in text):
        raise BadRequest(f"{param} must be 1 to {MAX_NAME} characters, no control characters", param=param)
    return text


def parse_webex_addresses(raw: str | None) -> list[str]:
    """``a@x.com, b@x.com`` → the addresses (emails lower-cased), in order, without repeats."""
    if raw is None or not raw.strip():
        raise BadRequest("webexAddress is required", param="webexAddress")
    addresses: list[str] = []
    for part in raw.split(","):
        text = part.strip()
        if not text:
            continue
        if not _ADDRESS.fullmatch(text):
            raise BadRequest(f"webexAddress {text!r} is not a Webex user id or email", param="webexAddress")
        value = text.lower() if "@" in text else text
        if value not in addresses:
            addresses.append(value)
    if not addresses or len(addresses) > MAX_ADDRESSES:
        raise BadRequest(f"webexAddress takes 1 to {MAX_ADDRESSES} comma-separated ids", param="webexAddress")
    return addresses


def webex_key(addresses: list[str]) -> str:
    return ",".join(sorted(address.lower() for address in addresses))


def external_e164(raw: str | None) -> str:
    """The document's ``12012852659`` or ``+12012852659`` → E.164."""
    if raw is None or not raw.strip():
        raise BadRequest("externalAddress is required", param="externalAddress")
    text = raw.strip()
    return numbers.normalize_e164(text if text.startswith("+") else f"+{text}", param="externalAddress")


async def _visible(session: AsyncSession, caller: Account, account_sid: str) -> bool:
    if account_sid == caller.sid:
        return True
    try:
        owner = await accounts.get_by_sid(session, account_sid)
    except NotFound:
        return False
    return accounts.can_see(caller, owner)


async def _email(session: AsyncSession, account_sid: str) -> str:
    return (await accounts.get_by_sid(session, account_sid)).email_address


# Enterprises


EnterpriseQuery = ListQuery[EnterpriseFilter]


async def _enterprise_row(session: AsyncSession, enterprise: Enterprise) -> EnterpriseRow:
    count = await WebexRepository(session).mappings_count(enterprise.sid)
    return enterprise, count, await _email(session, enterprise.account_sid)


async def visible_enterprise(session: AsyncSession, caller: Account, sid: str) -> Enterprise | None:
    enterprise = await WebexRepository(session).enterprise(sid) if sid.startswith(SID_PREFIX) else None
    if enterprise is None or not await _visible(session, caller, enterprise.account_sid):
        return None
    return enterprise


async def create_enterprise(session: AsyncSession, caller: Account, name: str | None) -> EnterpriseRow:
    text = _name(name)
    assert text is not None
    org = org_of(caller)
    repo = WebexRepository(session)
    taken = WebexError(errors.ENTERPRISE_NAME_TAKEN, "Enterprise name not unique", text)
    if await repo.enterprise_name_taken(org, text.casefold()):
        raise taken
    now = utcnow()
    enterprise = Enterprise(
        sid=new_sid(SID_PREFIX),
        org_sid=org,
        account_sid=caller.sid,
        name=text,
        name_key=text.casefold(),
        status=Status.ACTIVE.value,
        date_created=now,
        date_updated=now,
        date_deleted=None,
    )
    if not await repo.add_enterprise(enterprise):
        raise taken  # a concurrent create of the same name won the unique key
    return enterprise, 0, await _email(session, caller.sid)


async def update_enterprise(session: AsyncSession, caller: Account, sid: str, name: str | None) -> EnterpriseRow:
    text = _name(name)
    assert text is not None
    enterprise = await visible_enterprise(session, caller, sid)
    if enterprise is None:
        raise WebexError(errors.UPDATE_ENTERPRISE_NOT_FOUND, "Enterprise name not found", sid)
    repo = WebexRepository(session)
    taken = WebexError(errors.UPDATE_ENTERPRISE_NAME_TAKEN, "Enterprise name not unique", text)
    if await repo.enterprise_name_taken(enterprise.org_sid, text.casefold(), except_sid=enterprise.sid):
        raise taken
    enterprise.name = text
    enterprise.name_key = text.casefold()
    enterprise.date_updated = utcnow()
    if not await repo.save_enterprise():
        raise taken
    return await _enterprise_row(session, enterprise)


async def delete_enterprise(session: AsyncSession, caller: Account, sid: str) -> EnterpriseRow:
    enterprise = await visible_enterprise(session, caller, sid)
    if enterprise is None:
        raise WebexError(errors.DELETE_ENTERPRISE_NOT_FOUND, "Enterprise name not found", sid)
    repo = WebexRepository(session)
    if await repo.mappings_count(enterprise.sid) > 0:
        raise WebexError(errors.DELETE_ENTERPRISE_HAS_MAPPINGS, "Enterprise has mappings", sid)
    # The answer shows the enterprise as it was when deleted, as the document's example does
    # (its status still ACTIVE, its dateUpdated unchanged): a detached copy, never flushed.
    deleted = Enterprise(**{column.key: getattr(enterprise, column.key) for column in Enterprise.__table__.columns})
    now = utcnow()
    enterprise.status = Status.DELETED.value
    enterprise.name_key = None
    enterprise.date_updated = now
    enterprise.date_deleted = now
    await session.flush()
    return deleted, 0, await _email(session, enterprise.account_sid)


async def get_enterprise(session: AsyncSession, caller: Account, sid: str) -> EnterpriseRow:
    enterprise = await visible_enterprise(session, caller, sid)
    if enterprise is None:
        raise WebexError(errors.INVALID_ENTERPRISE_ID, "Invalid EnterpriseId", sid)
    return await _enterprise_row(session, enterprise)


async def list_enterprises(session: AsyncSession, query: EnterpriseQuery) -> tuple[int, list[EnterpriseRow]]:
    repo = WebexRepository(session)
    return await listing(query, repo.count_enterprises, repo.page_enterprises)


# Mappings


@dataclass(frozen=True, slots=True)
class NewMapping:
    webex_address: str | None
    external_address: str | None
    name: str | None = None


MappingQuery = ListQuery[MappingFilter]


async def visible_mapping(session: AsyncSession, caller: Account, sid: str) -> Mapping | None:
    mapping = await WebexRepository(session).mapping(sid) if sid.startswith(SID_PREFIX) else None
    if mapping is None or not await _visible(session, caller, mapping.account_sid):
        return None
    return mapping


async def _claim_number(session: AsyncSession, caller: Account, e164: str, name: str) -> bool:
    """SMS-enable ``e164`` for the exchange; True when it had to be provisioned. Taken → 466."""
    in_use = WebexError(errors.MAPPING_EXTERNAL_TAKEN, "externalAddress not unique", e164[1:])
    number = await numbers.find_by_phone_number(session, e164)
    provisioned = False
    if number is None:
        try:
            number = await numbers.add_number(session, caller, numbers.NewNumber(e164, friendly_name=name[:64]))
        except Conflict:
            raise in_use from None  # provisioned concurrently by someone else
        provisioned = True
    elif not await _visible(session, caller, number.account_sid):
        raise in_use
    number.sms_capable = True
    number.mms_capable = True
    number.date_updated = utcnow()
    await session.flush()
    return provisioned


async def create_mapping(session: AsyncSession, caller: Account, enterprise_sid: str, new: NewMapping) -> MappingRow:
    addresses = parse_webex_addresses(new.webex_address)
    e164 = external_e164(new.external_address)
    name = _name(new.name, required=False) or ",".join(addresses)[:MAX_NAME]
    enterprise = await visible_enterprise(session, caller, enterprise_sid)
    if enterprise is None:
        raise WebexError(errors.MAPPING_ENTERPRISE_NOT_FOUND, "Enterprise not found", enterprise_sid)
    repo = WebexRepository(session)
    key = webex_key(addresses)
    webex_taken = WebexError(errors.MAPPING_WEBEX_TAKEN, "webexAddress not unique", ",".join(addresses))
    external_taken = WebexError(errors.MAPPING_EXTERNAL_TAKEN, "externalAddress not unique", e164[1:])
    if await repo.webex_address_taken(enterprise.org_sid, key):
        raise webex_taken
    if await repo.mapping_of_number(e164) is not None:
        raise external_taken
    provisioned = await _claim_number(session, caller, e164, name)
    now = utcnow()
    mapping = Mapping(
        sid=new_sid(SID_PREFIX),
        org_sid=enterprise.org_sid,
        account_sid=caller.sid,
        enterprise_sid=enterprise.sid,
        name=name,
        webex_address=",".join(addresses),
        webex_key=key,
        external_address=e164,
        external_key=e164,
        provisioned_number=provisioned,
        status=Status.ACTIVE.value,
        date_created=now,
        date_updated=now,
        date_deleted=None,
    )
    if not await repo.add_mapping(mapping):
        # A concurrent create took one of the keys between our checks and the insert.
        raise webex_taken if await repo.webex_address_taken(enterprise.org_sid, key) else external_taken
    return mapping, enterprise.name, await _email(session, caller.sid)


async def update_mapping(session: AsyncSession, caller: Account, sid: str, name: str | None) -> MappingRow:
    text = _name(name, required=False)
    mapping = await visible_mapping(session, caller, sid)
    if mapping is None:
        raise WebexError(errors.UPDATE_MAPPING_NOT_FOUND, "Mapping not found", sid)
    if text is not None:
        mapping.name = text
    mapping.date_updated = utcnow()
    await session.flush()
    return await WebexRepository(session).mapping_row(mapping)


async def delete_mapping(session: AsyncSession, caller: Account, sid: str) -> MappingRow:
    """Stop the mapping (both directions) and release its number if the mapping provisioned it."""
    mapping = await visible_mapping(session, caller, sid)
    if mapping is None:
        raise WebexError(errors.DELETE_MAPPING_NOT_FOUND, "Mapping not found", sid)
    row = await WebexRepository(session).mapping_row(mapping)
    now = utcnow()
    mapping.status = Status.DELETED.value
    mapping.webex_key = None
    mapping.external_key = None
    mapping.date_updated = now
    mapping.date_deleted = now
    if mapping.provisioned_number:
        await release_number(session, mapping.external_address, mapping.account_sid)
    await session.flush()
    return row


async def get_mapping(session: AsyncSession, caller: Account, sid: str) -> MappingRow:
    mapping = await visible_mapping(session, caller, sid)
    if mapping is None:
        raise WebexError(errors.INVALID_ID, "Invalid MappingId", sid)
    return await WebexRepository(session).mapping_row(mapping)


async def list_mappings(session: AsyncSession, query: MappingQuery) -> tuple[int, list[MappingRow]]:
    repo = WebexRepository(session)
    return await listing(query, repo.count_mappings, repo.page_mappings)


# Message records


RecordQuery = ListQuery[RecordFilter]


async def get_record(session: AsyncSession, caller: Account, sid: str) -> ExchangeMessage:
    record = await ExchangeRepository(session).record(sid) if sid.startswith(SID_PREFIX) else None
    if record is None or record.channel != "webex" or not await _visible(session, caller, record.account_sid):
        # The document gives this lookup code 491 (its text says "Invalid MappingId").
        raise WebexError(errors.INVALID_ID, "Invalid MessageId", sid)
    return record


async def list_records(session: AsyncSession, query: RecordQuery) -> tuple[int, list[ExchangeMessage]]:
    repo = ExchangeRepository(session)
    return await listing(query, repo.count_records, repo.page_records)
