"""Business customers, their status lifecycle and admin sub-account. Never commits; knows no HTTP.

Tenancy: a business customer is seen by the CSP account that created it (and its
ancestors) and by its admin sub-account; anyone else gets the documented "not found"
(4051), exactly as for an unknown sid. Names are unique per CSP organisation (the root of
the creator's account tree) among business customers that are not CLOSED.

The admin (``enterpriseAdmin``) is a sub-account of the creator that logs in with its email
and password. An existing account under the creator (not yet the admin of another live
business customer) is made the admin instead, its password unchanged; an email used
anywhere else → 4001.

Status lifecycle::

    ACTIVE ⇄ INACTIVE      the admin account is suspended (and its sub-accounts with it);
       │        │          mappings refuse traffic both ways and Teams users get a notice
       └──► CLOSED ◄─┘     final: the admin account is closed, the mappings are deleted
                           (their numbers released when the mapping provisioned them)

``DELETE`` closes a business customer that has no live mappings (409 while it has some).

Only the CSP side (the creator and its ancestors) changes or closes a business customer;
its own admin sees it but gets 403 on ``PUT`` / ``DELETE`` (a customer cannot lift its own
suspension, close itself or rename itself).

Teams users are told about status changes (``msteams.notice``, fanned out to one
``msteams.notice_user`` job per mapped user, so a failure repeats no other user's notice):
INACTIVE pauses texting, ACTIVE resumes it, CLOSED ends it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from message_exchange.accounts import service as accounts
from message_exchange.accounts.models import Account, AccountStatus
from message_exchange.accounts.repository import AccountRepository
from message_exchange.core.crypto import SecretBox
from message_exchange.core.errors import BadRequest, Conflict, Forbidden
from message_exchange.core.sids import new_sid
from message_exchange.db.base import utcnow
from message_exchange.exchange.listing import ListQuery, listing
from message_exchange.exchange.models import ExchangeMessage
from message_exchange.exchange.repository import RecordFilter
from message_exchange.exchange.service import release_number
from message_exchange.jobs.service import enqueue
from message_exchange.msteams import errors
from message_exchange.msteams.errors import PlatformError, TeamsError, require
from message_exchange.msteams.models import (
    CHANNEL,
    ENTERPRISE_PREFIX,
    BusinessCustomer,
    EnterpriseStatus,
    MappingStatus,
    TeamsMapping,
)
from message_exchange.msteams.repository import EnterpriseFilter, EnterpriseRow, TeamsRepository

MAX_NAME = 255
NOTICE_JOB = "msteams.notice"
_EMAIL = re.compile(r"[^@\s,;<>()\[\]\\\"]+@[^@\s,;<>()\[\]\\\"]+\.[^@\s,;<>()\[\]\\\".]+")
MAX_EMAIL = 254
INACTIVE_NOTICE = (
    "Texting from Teams is paused for your organisation: messages you send here are not delivered as SMS, "
    "and texts to your number are not shown here until it is resumed."
)
ACTIVE_NOTICE = "Texting from Teams is available again: SMS to your number appear here, and you can reply."
CLOSED_NOTICE = (
    "Texting from Teams has ended for your organisation: your phone number is no longer connected to this chat."
)


def org_of(account: Account) -> str:
    """The CSP organisation an account belongs to: the root of its tree."""
    return account.lineage.strip("/").split("/")[0]


def clean_name(value: str | None, *, param: str = "name") -> str | None:
    if value is None or not value.strip():
        return None
    text = value.strip()
    if len(text) > MAX_NAME or any(ord(ch) < 32 for ch in text):
        raise BadRequest(f"{param} must be 1 to {MAX_NAME} characters, no control characters", param=param)
    return text


def parse_status(value: str | None, allowed: tuple[EnterpriseStatus, ...]) -> EnterpriseStatus | None:
    if value is None or not value.strip():
        return None
    text = value.strip().upper()
    names = [status.value for status in allowed]
    if text not in names:
        raise BadRequest(f"status must be one of {', '.join(names)}, got {value!r}", param="status")
    return EnterpriseStatus(text)


def not_found(sid: str) -> TeamsError:
    return TeamsError(errors.ENTERPRISE_NOT_FOUND, "Enterprise not found", sid)


async def visible_enterprise(session: AsyncSession, caller: Account, sid: str) -> BusinessCustomer | None:
    if not sid.startswith(ENTERPRISE_PREFIX):
        return None
    return await TeamsRepository(session).enterprise_visible_to(sid, caller.lineage)


async def usable_enterprise(session: AsyncSession, caller: Account, sid: str | None) -> BusinessCustomer:
    """A business customer the caller may add mappings / bot details to (not CLOSED) → else 4051."""
    enterprise = await visible_enterprise(session, caller, sid or "")
    if enterprise is None or enterprise.status == EnterpriseStatus.CLOSED.value:
        raise not_found(sid or "")
    return enterprise


# Creating


@dataclass(frozen=True, slots=True)
class NewEnterprise:
    name: str | None
    status: str | None
    enterprise_admin: str | None  # the JSON object as sent


@dataclass(frozen=True, slots=True)
class AdminData:
    email: str | None
    password: str | None
    name: str | None


def parse_admin(raw: str | None) -> AdminData | None:
    if raw is None or not raw.strip():
        return None
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        raise BadRequest("enterpriseAdmin must be an object with emailId, password and name", param="enterpriseAdmin")

    def text(key: str) -> str | None:
        value = data.get(key)
        return value if isinstance(value, str) and value.strip() else None

    return AdminData(email=text("emailId"), password=text("password"), name=text("name"))


def check_email(email: str) -> None:
    """The admin logs in with this email: it must look like one (400 otherwise, nothing stored)."""
    text = email.strip()
    if len(text) > MAX_EMAIL or not _EMAIL.fullmatch(text):
        raise BadRequest(f"enterpriseAdmin.emailId {email!r} is not an email address", param="enterpriseAdmin.emailId")


async def _admin_account(session: AsyncSession, box: SecretBox, caller: Account, admin: AdminData) -> Account:
    """The admin: an existing account under the caller, or a new sub-account of the caller."""
    assert admin.email is not None and admin.password is not None
    email = admin.email.strip().lower()
    taken = TeamsError(errors.EMAIL_TAKEN, "Email not unique", admin.email)
    existing = await AccountRepository(session).get_by_email(email)
    if existing is not None:
        usable = (
            accounts.is_ancestor(caller, existing)
            and existing.status == AccountStatus.ACTIVE
            and not await TeamsRepository(session).administers(existing.sid)
        )
        if not usable:
            raise taken
        return existing
    friendly = (admin.name or email)[:64]
    try:
        account, _token = await accounts.create_account(
            session,
            box,
            accounts.NewAccount(email=email, password=admin.password, friendly_name=friendly, parent_sid=caller.sid),
            creator=caller,
        )
    except Conflict:
        raise taken from None  # a concurrent request took the email
    except BadRequest as exc:
        raise PlatformError(exc.message, admin.email) from None
    return account


async def create_enterprise(
    session: AsyncSession, box: SecretBox, caller: Account, new: NewEnterprise
) -> EnterpriseRow:
    admin = parse_admin(new.enterprise_admin)
    require(
        {
            "name": new.name,
            "enterpriseAdmin": new.enterprise_admin,
            **(
                {"enterpriseAdmin.emailId": admin.email, "enterpriseAdmin.password": admin.password}
                if admin is not None
                else {}
            ),
        }
    )
    assert admin is not None and admin.email is not None
    check_email(admin.email)
    name = clean_name(new.name)
    assert name is not None
    status = parse_status(new.status, (EnterpriseStatus.ACTIVE, EnterpriseStatus.INACTIVE)) or EnterpriseStatus.ACTIVE
    repo = TeamsRepository(session)
    if await repo.administers(caller.sid):
        raise Forbidden("A business customer's admin cannot create business customers")
    org = org_of(caller)
    name_taken = TeamsError(errors.ENTERPRISE_NAME_TAKEN, "Enterprise name not unique", name)
    if await repo.name_taken(org, name.casefold()):
        raise name_taken
    account = await _admin_account(session, box, caller, admin)
    now = utcnow()
    enterprise = BusinessCustomer(
        sid=new_sid(ENTERPRISE_PREFIX),
        org_sid=org,
        account_sid=caller.sid,
        admin_sid=account.sid,
        name=name,
        name_key=name.casefold(),
        status=status.value,
        date_created=now,
        date_updated=now,
    )
    if not await repo.insert(enterprise):
        raise name_taken  # a concurrent create of the same name won the unique key
    if status is EnterpriseStatus.INACTIVE:
        await _set_admin_status(session, enterprise, AccountStatus.SUSPENDED)
    return await repo.enterprise_row(enterprise)


# Changing


async def _set_admin_status(session: AsyncSession, enterprise: BusinessCustomer, status: AccountStatus) -> None:
    admin = await AccountRepository(session).get(enterprise.admin_sid)
    if admin is None or admin.status == AccountStatus.CLOSED:
        return
    now = utcnow()
    admin.status = status
    admin.date_updated = now
    if status == AccountStatus.CLOSED:
        await AccountRepository(session).close_descendants(admin.lineage, now)
    await session.flush()


async def retire_mapping(session: AsyncSession, mapping: TeamsMapping) -> None:
    """Delete a mapping (soft): both directions stop; its number is released if the mapping provisioned it."""
    now = utcnow()
    mapping.status = MappingStatus.DELETED.value
    mapping.external_key = None
    mapping.date_updated = now
    mapping.date_deleted = now
    if mapping.provisioned_number:
        await release_number(session, mapping.external_address, mapping.account_sid)
    await session.flush()


async def _close(session: AsyncSession, enterprise: BusinessCustomer) -> None:
    for mapping in await TeamsRepository(session).live_mappings(enterprise.sid):
        await retire_mapping(session, mapping)
    enterprise.name_key = None
    await _set_admin_status(session, enterprise, AccountStatus.CLOSED)


async def change_status(session: AsyncSession, enterprise: BusinessCustomer, status: EnterpriseStatus) -> None:
    """Move along the lifecycle (see the module docstring); CLOSED never changes again."""
    if enterprise.status == status.value:
        return
    if enterprise.status == EnterpriseStatus.CLOSED.value:
        raise BadRequest(f"Business customer {enterprise.sid} is CLOSED; its status cannot change", param="status")
    previous = enterprise.status
    enterprise.status = status.value
    enterprise.date_updated = utcnow()
    if status is EnterpriseStatus.CLOSED:
        # The users are told through the mappings being removed (their 1:1 chats are still known).
        told = [mapping.sid for mapping in await TeamsRepository(session).live_mappings(enterprise.sid)]
        await _close(session, enterprise)
        if told:
            await enqueue(session, NOTICE_JOB, {"enterprise": enterprise.sid, "text": CLOSED_NOTICE, "mappings": told})
    elif status is EnterpriseStatus.INACTIVE:
        await _set_admin_status(session, enterprise, AccountStatus.SUSPENDED)
        await enqueue(session, NOTICE_JOB, {"enterprise": enterprise.sid, "text": INACTIVE_NOTICE})
    else:
        await _set_admin_status(session, enterprise, AccountStatus.ACTIVE)
        if previous == EnterpriseStatus.INACTIVE.value:
            await enqueue(session, NOTICE_JOB, {"enterprise": enterprise.sid, "text": ACTIVE_NOTICE})
    await session.flush()


async def managed_enterprise(session: AsyncSession, caller: Account, sid: str) -> BusinessCustomer:
    """A business customer the caller may change or close: 4051 when unseen, 403 for its own admin's side."""
    enterprise = await visible_enterprise(session, caller, sid)
    if enterprise is None:
        raise not_found(sid)
    creator = await AccountRepository(session).get(enterprise.account_sid)
    if creator is None or not accounts.can_see(caller, creator):
        raise Forbidden(f"Only the communications provider changes business customer {sid}")
    return enterprise


async def update_enterprise(
    session: AsyncSession, caller: Account, sid: str, *, name: str | None, status: str | None
) -> EnterpriseRow:
    text = clean_name(name)
    new_status = parse_status(status, tuple(EnterpriseStatus))
    enterprise = await managed_enterprise(session, caller, sid)
    renamed = text is not None and text != enterprise.name
    if enterprise.status == EnterpriseStatus.CLOSED.value and (
        renamed or new_status not in (None, EnterpriseStatus.CLOSED)
    ):
        raise BadRequest(f"Business customer {sid} is CLOSED and cannot be changed", param="status")
    repo = TeamsRepository(session)
    if text is not None and renamed:
        taken = TeamsError(errors.ENTERPRISE_NAME_TAKEN, "Enterprise name not unique", text)
        if await repo.name_taken(enterprise.org_sid, text.casefold(), except_sid=enterprise.sid):
            raise taken
        enterprise.name = text
        enterprise.name_key = text.casefold()
        enterprise.date_updated = utcnow()
        if not await repo.flush_unique():
            raise taken
    if new_status is not None:
        await change_status(session, enterprise, new_status)
    return await repo.enterprise_row(enterprise)


async def delete_enterprise(session: AsyncSession, caller: Account, sid: str) -> EnterpriseRow:
    enterprise = await managed_enterprise(session, caller, sid)
    repo = TeamsRepository(session)
    if enterprise.status != EnterpriseStatus.CLOSED.value:
        if await repo.live_mappings(enterprise.sid):
            # The document lists this 409 without a code of its own.
            raise TeamsError("409", "Enterprise has Mappings", sid)
        await change_status(session, enterprise, EnterpriseStatus.CLOSED)
    return await repo.enterprise_row(enterprise)


async def get_enterprise(session: AsyncSession, caller: Account, sid: str) -> EnterpriseRow:
    enterprise = await visible_enterprise(session, caller, sid)
    if enterprise is None:
        raise not_found(sid)
    return await TeamsRepository(session).enterprise_row(enterprise)


EnterpriseQuery = ListQuery[EnterpriseFilter]


async def list_enterprises(session: AsyncSession, query: EnterpriseQuery) -> tuple[int, list[EnterpriseRow]]:
    repo = TeamsRepository(session)
    return await listing(query, repo.count_enterprises, repo.page_enterprises)


# Message records


RecordQuery = ListQuery[RecordFilter]


async def get_record(session: AsyncSession, caller: Account, sid: str) -> ExchangeMessage:
    record = await TeamsRepository(session).record_visible_to(sid, CHANNEL, caller.lineage)
    if record is None:
        raise TeamsError(errors.MESSAGE_NOT_FOUND, "Message Id not found", sid)
    return record


async def list_records(session: AsyncSession, query: RecordQuery) -> tuple[int, list[ExchangeMessage]]:
    repo = TeamsRepository(session)
    return await listing(query, repo.count_records, repo.page_records)
