"""Incoming phone numbers: add, list, get, update, remove. Never commits; knows no HTTP.

A number belongs to one account and is unique system-wide. An account manages its own
numbers and its descendants' (through the descendant's ``/Accounts/{sid}`` path); anyone
else's number answers NotFound, exactly like an unknown sid.

Called by other domains:

- :func:`find_by_phone_number` — the owner of an E.164 number, system-wide (inbound routing);
- :func:`normalize_e164` — any human spelling of a number → E.164, or BadRequest naming the
  parameter;
- :func:`get_owned` — a number of a given account, or NotFound.

Error codes (Twilio's numbering): 21421 invalid ``PhoneNumber``, 21422 number already
taken (409), 21402 invalid URL, 21403 invalid method; other bad parameters 21100.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from message_exchange.accounts.models import Account, AccountStatus
from message_exchange.core.errors import BadRequest, Conflict, NotFound
from message_exchange.core.paging import PageRequest, ensure_page_exists
from message_exchange.core.sids import is_sid, new_sid
from message_exchange.core.sorting import Sort
from message_exchange.db.base import utcnow
from message_exchange.numbers.models import SID_PREFIX, IncomingPhoneNumber
from message_exchange.numbers.repository import SORTABLE, NumberFilter, NumberRepository

NUMBER_SORTS = tuple(SORTABLE)
DEFAULT_SORT = Sort(attribute="DateCreated", descending=False)

INVALID_NUMBER = 21421
NUMBER_TAKEN = 21422
INVALID_URL = 21402
INVALID_METHOD = 21403

# What a person may type around the digits: "+1 (415) 555-0100", "+44 20.7946.0958".
_NUMBER_CHARS = re.compile(r"\+[0-9 ()./-]+")


def normalize_e164(raw: str, *, param: str = "PhoneNumber") -> str:
    """A phone number with its country code, in any usual spelling → E.164 (``+14155550100``).

    The number must start with ``+`` (no default region is guessed), hold only digits and
    the separators `` ()-./``, have a known country code and the full length of a number of
    that country (``phonenumbers``' "possible" check, as the Messages API applies to
    addresses; stricter validity would refuse the 555 test ranges). Anything else raises
    BadRequest 21421 naming ``param``.
    """
    text = raw.strip()
    problem = f"{param} must be a phone number with its country code, such as +14155550100, got {raw!r}"
    if not _NUMBER_CHARS.fullmatch(text):
        raise BadRequest(problem, param=param, code=INVALID_NUMBER)
    try:
        parsed = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        raise BadRequest(problem, param=param, code=INVALID_NUMBER) from None
    if (
        phonenumbers.is_possible_number_with_reason(parsed) != phonenumbers.ValidationResult.IS_POSSIBLE
        or parsed.extension
    ):
        raise BadRequest(f"{param} {raw!r} is not a valid phone number", param=param, code=INVALID_NUMBER)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


@dataclass(frozen=True, slots=True)
class NewNumber:
    phone_number: str
    friendly_name: str | None = None
    sms_url: str | None = None
    sms_method: str = "POST"
    sms_fallback_url: str | None = None
    sms_fallback_method: str = "POST"
    status_callback: str | None = None
    status_callback_method: str = "POST"
    sms_capable: bool = True
    mms_capable: bool = True


@dataclass(frozen=True, slots=True)
class NumberChanges:
    """``None`` leaves a field as it is; an empty URL clears it."""

    friendly_name: str | None = None
    sms_url: str | None = None
    sms_method: str | None = None
    sms_fallback_url: str | None = None
    sms_fallback_method: str | None = None
    status_callback: str | None = None
    status_callback_method: str | None = None
    sms_capable: bool | None = None
    mms_capable: bool | None = None


@dataclass(frozen=True, slots=True)
class NumberQuery:
    page: PageRequest
    sort: Sort = DEFAULT_SORT
    phone_number: str | None = None
    friendly_name: str | None = None


def _taken(e164: str) -> Conflict:
    return Conflict(f"Phone number {e164} is already in use", param="PhoneNumber", code=NUMBER_TAKEN)


async def add_number(session: AsyncSession, account: Account, new: NewNumber) -> IncomingPhoneNumber:
    """Give ``account`` the number; taken anywhere → Conflict 21422 (the unique index decides races)."""
    if account.status != AccountStatus.ACTIVE:
        raise BadRequest(f"Account {account.sid} is {account.status}")
    e164 = normalize_e164(new.phone_number)
    repo = NumberRepository(session)
    if await repo.get_by_phone_number(e164) is not None:
        raise _taken(e164)
    now = utcnow()
    number = IncomingPhoneNumber(
        sid=new_sid(SID_PREFIX),
        account_sid=account.sid,
        phone_number=e164,
        friendly_name=new.friendly_name or e164,
        sms_url=new.sms_url or None,
        sms_method=new.sms_method,
        sms_fallback_url=new.sms_fallback_url or None,
        sms_fallback_method=new.sms_fallback_method,
        status_callback=new.status_callback or None,
        status_callback_method=new.status_callback_method,
        sms_capable=new.sms_capable,
        mms_capable=new.mms_capable,
        date_created=now,
        date_updated=now,
    )
    try:
        await repo.add(number)
    except IntegrityError:
        # A concurrent add took the number between our check and the insert.
        raise _taken(e164) from None
    return number


async def find_by_phone_number(session: AsyncSession, e164: str) -> IncomingPhoneNumber | None:
    """The number's record, whoever owns it (for inbound routing); ``e164`` must be normalised."""
    return await NumberRepository(session).get_by_phone_number(e164)


async def get_owned(session: AsyncSession, account: Account, number_sid: str) -> IncomingPhoneNumber:
    """``account``'s own number ``number_sid``; anyone else's or unknown → NotFound."""
    number = await NumberRepository(session).get(number_sid) if is_sid(number_sid, SID_PREFIX) else None
    if number is None or number.account_sid != account.sid:
        raise NotFound(f"Incoming phone number {number_sid} not found")
    return number


async def list_numbers(
    session: AsyncSession, account: Account, query: NumberQuery
) -> tuple[int, list[IncomingPhoneNumber]]:
    """``account``'s numbers, filtered (prefix, ``%`` wildcard), sorted, paged; past the end → 400."""
    flt = NumberFilter(account_sid=account.sid, phone_number=query.phone_number, friendly_name=query.friendly_name)
    repo = NumberRepository(session)
    total = await repo.count(flt)
    ensure_page_exists(query.page, total)
    return total, await repo.page(flt, query.sort, offset=query.page.offset, limit=query.page.page_size)


async def update_number(
    session: AsyncSession, number: IncomingPhoneNumber, changes: NumberChanges
) -> IncomingPhoneNumber:
    """Apply ``changes``; the phone number itself never changes."""
    if changes.friendly_name is not None:
        number.friendly_name = changes.friendly_name
    if changes.sms_url is not None:
        number.sms_url = changes.sms_url or None
    if changes.sms_method is not None:
        number.sms_method = changes.sms_method
    if changes.sms_fallback_url is not None:
        number.sms_fallback_url = changes.sms_fallback_url or None
    if changes.sms_fallback_method is not None:
        number.sms_fallback_method = changes.sms_fallback_method
    if changes.status_callback is not None:
        number.status_callback = changes.status_callback or None
    if changes.status_callback_method is not None:
        number.status_callback_method = changes.status_callback_method
    if changes.sms_capable is not None:
        number.sms_capable = changes.sms_capable
    if changes.mms_capable is not None:
        number.mms_capable = changes.mms_capable
    number.date_updated = utcnow()
    await session.flush()
    return number


async def remove_number(session: AsyncSession, number: IncomingPhoneNumber) -> None:
    await NumberRepository(session).delete(number)


async def list_all(session: AsyncSession, account_sid: str | None = None) -> list[IncomingPhoneNumber]:
    """Every number (or one account's), by phone number — for the operator's CLI."""
    return await NumberRepository(session).all(account_sid)


async def find_for_cli(session: AsyncSession, number_or_sid: str) -> IncomingPhoneNumber:
    """A number by its sid or by any spelling of the number; unknown → NotFound."""
    repo = NumberRepository(session)
    text = number_or_sid.strip()
    if text.startswith(SID_PREFIX):
        number = await repo.get(text)
    else:
        number = await repo.get_by_phone_number(normalize_e164(text, param="NUMBER"))
    if number is None:
        raise NotFound(f"Incoming phone number {number_or_sid} not found")
    return number
