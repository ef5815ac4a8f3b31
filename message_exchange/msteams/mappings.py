"""Teams mappings: a Teams user ↔ an SMS-enabled number. Never commits; knows no HTTP.

A mapping's ``microsoftAddress`` (a UPN / email, or an Azure AD object id) must be a user
of the business customer's tenant: it is looked up in Microsoft Graph
(``GET /v1.0/users/{address}``) with the business customer's bot credentials (client
credentials for that tenant). No bot details, or no such user → 485; Graph refusing the
credentials (or unreachable) → 452 with Microsoft's message. The user's object id is kept:
it is whom the bot opens a 1:1 conversation with.

``externalAddress`` is an incoming number, unique in the whole system (a live Teams or
Webex mapping, or a number another tenant owns → 482). One the caller's tree owns is used,
an unowned one is provisioned to the caller (and released when the mapping is deleted);
either way it is SMS- and MMS-enabled and from then on routed to the Teams bridge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from message_exchange.accounts import service as accounts
from message_exchange.accounts.models import Account
from message_exchange.config import Settings
from message_exchange.core.crypto import SecretBox
from message_exchange.core.errors import BadRequest, Conflict, NotFound
from message_exchange.core.sids import new_sid
from message_exchange.db.base import utcnow
from message_exchange.exchange.listing import ListQuery, listing
from message_exchange.msteams import errors
from message_exchange.msteams.client import MicrosoftClient, TeamsApiError
from message_exchange.msteams.errors import PlatformError, TeamsError, require
from message_exchange.msteams.models import MAPPING_PREFIX, BusinessCustomer, MappingStatus, TeamsMapping
from message_exchange.msteams.repository import MappingFilter, MappingRow, TeamsRepository
from message_exchange.msteams.service import clean_name, retire_mapping, usable_enterprise
from message_exchange.numbers import service as numbers
from message_exchange.webex.repository import WebexRepository

# A UPN / email (a guest's UPN has "#EXT#"), or an object id: no spaces, commas, quotes, angle brackets,
# slashes or "?" (it travels in a Graph URL path, percent-encoded).
_ADDRESS = re.compile(r"[^\s,<>\"'/\\?]{1,320}")


@dataclass(frozen=True, slots=True)
class NewMapping:
    microsoft_address: str | None
    external_address: str | None
    enterprise_sid: str | None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class MappingChanges:
    name: str | None = None
    microsoft_address: str | None = None
    enterprise_sid: str | None = None


MappingQuery = ListQuery[MappingFilter]


@dataclass(frozen=True, slots=True)
class TeamsUser:
    address: str
    object_id: str


def microsoft_address(raw: str) -> str:
    text = raw.strip()
    if not _ADDRESS.fullmatch(text):
        raise BadRequest(f"microsoftAddress {raw!r} is not a Teams user id or email", param="microsoftAddress")
    return text.lower() if "@" in text else text


def external_e164(raw: str) -> str:
    """The document's ``12012852659`` or ``+12012852659`` → E.164; not a number → 452."""
    text = raw.strip()
    try:
        return numbers.normalize_e164(text if text.startswith("+") else f"+{text}", param="externalAddress")
    except BadRequest as exc:
        raise PlatformError(exc.message, raw) from None


def invalid_address(address: str, why: str = "Microsoft Address is not Valid") -> TeamsError:
    return TeamsError(errors.MICROSOFT_ADDRESS_INVALID, why, address)


async def validate_user(
    session: AsyncSession, box: SecretBox, settings: Settings, enterprise: BusinessCustomer, address: str
) -> TeamsUser:
    """The Graph user ``address`` of the business customer's tenant → else 485 (452 when Graph fails)."""
    bot = await TeamsRepository(session).bot_of(enterprise.sid)
    if bot is None:
        raise invalid_address(address, "Microsoft Address is not Valid: the business customer has no bot details")
    try:
        async with MicrosoftClient(settings) as ms:
            user = await ms.graph_user(
                bot.tenant_id, bot.application_id, box.decrypt(bot.client_secret_encrypted), address
            )
    except TeamsApiError as exc:
        raise PlatformError(f"Microsoft Graph: {exc.message}", address) from None
    object_id = user.get("id") if user else None
    if not isinstance(object_id, str) or not object_id:
        raise invalid_address(address)
    return TeamsUser(address=address, object_id=object_id)


async def _visible(session: AsyncSession, caller: Account, account_sid: str) -> bool:
    if account_sid == caller.sid:
        return True
    try:
        owner = await accounts.get_by_sid(session, account_sid)
    except NotFound:
        return False
    return accounts.can_see(caller, owner)


def _taken(e164: str) -> TeamsError:
    return TeamsError(errors.EXTERNAL_TAKEN, "externalAddress not unique", e164[1:])


async def _number_free(session: AsyncSession, caller: Account, e164: str) -> None:
    if await TeamsRepository(session).mapping_of_number(e164) is not None:
        raise _taken(e164)
    if await WebexRepository(session).mapping_of_number(e164) is not None:
        raise _taken(e164)
    number = await numbers.find_by_phone_number(session, e164)
    if number is not None and not await _visible(session, caller, number.account_sid):
        raise _taken(e164)


async def _claim_number(session: AsyncSession, caller: Account, e164: str, name: str) -> bool:
    """SMS-enable ``e164`` for the exchange; True when it had to be provisioned."""
    number = await numbers.find_by_phone_number(session, e164)
    provisioned = False
    if number is None:
        try:
            number = await numbers.add_number(session, caller, numbers.NewNumber(e164, friendly_name=name[:64]))
        except Conflict:
            raise _taken(e164) from None  # provisioned concurrently by someone else
        except BadRequest as exc:
            raise PlatformError(exc.message, e164[1:]) from None
        provisioned = True
    number.sms_capable = True
    number.mms_capable = True
    number.date_updated = utcnow()
    await session.flush()
    return provisioned


async def create_mapping(
    session: AsyncSession, box: SecretBox, settings: Settings, caller: Account, new: NewMapping
) -> MappingRow:
    require(
        {
            "microsoftAddress": new.microsoft_address,
            "externalAddress": new.external_address,
            "enterpriseSid": new.enterprise_sid,
        }
    )
    assert new.microsoft_address is not None and new.external_address is not None
    address = microsoft_address(new.microsoft_address)
    e164 = external_e164(new.external_address)
    name = clean_name(new.name) or address[:255]
    enterprise = await usable_enterprise(session, caller, new.enterprise_sid)
    await _number_free(session, caller, e164)
    user = await validate_user(session, box, settings, enterprise, address)
    provisioned = await _claim_number(session, caller, e164, name)
    now = utcnow()
    mapping = TeamsMapping(
        sid=new_sid(MAPPING_PREFIX),
        org_sid=enterprise.org_sid,
        account_sid=caller.sid,
        enterprise_sid=enterprise.sid,
        name=name,
        microsoft_address=address,
        domain=address.partition("@")[2],
        aad_object_id=user.object_id,
        external_address=e164,
        external_key=e164,
        provisioned_number=provisioned,
        status=MappingStatus.ACTIVE.value,
        teams_conversation_id=None,
        service_url=None,
        last_conversation_sid=None,
        date_created=now,
        date_updated=now,
        date_deleted=None,
    )
    repo = TeamsRepository(session)
    if not await repo.insert(mapping):
        raise _taken(e164)  # a concurrent create took the number between our check and the insert
    return await repo.mapping_row(mapping)


async def visible_mapping(session: AsyncSession, caller: Account, sid: str) -> TeamsMapping:
    mapping = (
        await TeamsRepository(session).live_mapping_visible_to(sid, caller.lineage)
        if sid.startswith(MAPPING_PREFIX)
        else None
    )
    if mapping is None:
        raise TeamsError(errors.MAPPING_NOT_FOUND, "Mapping Id not found", sid)
    return mapping


async def update_mapping(
    session: AsyncSession, box: SecretBox, settings: Settings, caller: Account, sid: str, changes: MappingChanges
) -> MappingRow:
    name = clean_name(changes.name)
    address = microsoft_address(changes.microsoft_address) if changes.microsoft_address else None
    mapping = await visible_mapping(session, caller, sid)
    enterprise = await usable_enterprise(session, caller, changes.enterprise_sid or mapping.enterprise_sid)
    moved = enterprise.sid != mapping.enterprise_sid
    if moved and address is None:
        address = mapping.microsoft_address  # the user must be in the new business customer's tenant too
    if address is not None and (address != mapping.microsoft_address or moved):
        user = await validate_user(session, box, settings, enterprise, address)
        if user.object_id != mapping.aad_object_id:
            mapping.teams_conversation_id = None  # another user: their own 1:1 conversation
            mapping.service_url = None
        mapping.microsoft_address = address
        mapping.domain = address.partition("@")[2]
        mapping.aad_object_id = user.object_id
    if moved:
        mapping.enterprise_sid = enterprise.sid
        mapping.org_sid = enterprise.org_sid
    if name is not None:
        mapping.name = name
    mapping.date_updated = utcnow()
    await session.flush()
    return await TeamsRepository(session).mapping_row(mapping)


async def delete_mapping(session: AsyncSession, caller: Account, sid: str) -> MappingRow:
    mapping = await visible_mapping(session, caller, sid)
    row = await TeamsRepository(session).mapping_row(mapping)
    await retire_mapping(session, mapping)
    return row


async def get_mapping(session: AsyncSession, caller: Account, sid: str) -> MappingRow:
    mapping = await visible_mapping(session, caller, sid)
    return await TeamsRepository(session).mapping_row(mapping)


async def list_mappings(session: AsyncSession, query: MappingQuery) -> tuple[int, list[MappingRow]]:
    repo = TeamsRepository(session)
    return await listing(query, repo.count_mappings, repo.page_mappings)
