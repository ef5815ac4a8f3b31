"""Bot details of business customers (one each). Never commits; knows no HTTP.

``applicationId`` is the Azure app registration (Microsoft App ID) of the bot: Bot
Framework tokens sent to the bridge must carry it as their audience, and the bridge's own
tokens are issued to it with ``clientSecret`` (kept encrypted with ``MX_SECRET_KEY``,
shown masked). ``tenantId`` is the customer's Azure AD tenant (Graph lookups, the 1:1
conversations), ``botAppId`` the Teams app's id.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from message_exchange.accounts.models import Account
from message_exchange.core.crypto import SecretBox
from message_exchange.core.errors import BadRequest
from message_exchange.core.sids import new_sid
from message_exchange.db.base import utcnow
from message_exchange.exchange.listing import ListQuery, listing
from message_exchange.msteams import errors
from message_exchange.msteams.errors import TeamsError, require
from message_exchange.msteams.models import BOT_PREFIX, BotDetails
from message_exchange.msteams.repository import BotFilter, BotRow, TeamsRepository
from message_exchange.msteams.service import usable_enterprise

MAX_ID = 255
MAX_SECRET = 1024


@dataclass(frozen=True, slots=True)
class BotFields:
    application_id: str | None = None
    tenant_id: str | None = None
    client_secret: str | None = None
    bot_app_id: str | None = None
    enterprise_sid: str | None = None


BotQuery = ListQuery[BotFilter]


def _token(value: str | None, param: str, limit: int = MAX_ID) -> str | None:
    """An id or secret: printable ASCII without spaces (it travels in token requests and claims)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if len(text) > limit or not all(33 <= ord(ch) <= 126 for ch in text):
        raise BadRequest(f"{param} must be 1 to {limit} printable ASCII characters without spaces", param=param)
    return text


def _not_found(sid: str) -> TeamsError:
    return TeamsError(errors.BOT_NOT_FOUND, "There is no Details added for this Bot", sid)


def _already(enterprise_sid: str) -> TeamsError:
    # Not in the document: one bot per business customer; a second is refused like a duplicate.
    return TeamsError("409", "The business customer already has bot details", enterprise_sid)


async def create_bot(session: AsyncSession, box: SecretBox, caller: Account, fields: BotFields) -> BotRow:
    require(
        {
            "applicationId": fields.application_id,
            "tenantId": fields.tenant_id,
            "clientSecret": fields.client_secret,
            "botAppId": fields.bot_app_id,
            "enterpriseSid": fields.enterprise_sid,
        }
    )
    application_id = _token(fields.application_id, "applicationId")
    tenant_id = _token(fields.tenant_id, "tenantId")
    secret = _token(fields.client_secret, "clientSecret", MAX_SECRET)
    bot_app_id = _token(fields.bot_app_id, "botAppId")
    assert application_id and tenant_id and secret and bot_app_id
    enterprise = await usable_enterprise(session, caller, fields.enterprise_sid)
    repo = TeamsRepository(session)
    if await repo.bot_of(enterprise.sid) is not None:
        raise _already(enterprise.sid)
    now = utcnow()
    bot = BotDetails(
        sid=new_sid(BOT_PREFIX),
        enterprise_sid=enterprise.sid,
        account_sid=caller.sid,
        application_id=application_id,
        tenant_id=tenant_id,
        client_secret_encrypted=box.encrypt(secret),
        bot_app_id=bot_app_id,
        service_url=None,
        date_created=now,
        date_updated=now,
    )
    if not await repo.insert(bot):
        raise _already(enterprise.sid)
    return await repo.bot_row(bot)


async def visible_bot(session: AsyncSession, caller: Account, sid: str) -> BotDetails:
    bot = await TeamsRepository(session).bot_visible_to(sid, caller.lineage) if sid.startswith(BOT_PREFIX) else None
    if bot is None:
        raise _not_found(sid)
    return bot


async def update_bot(session: AsyncSession, box: SecretBox, caller: Account, sid: str, fields: BotFields) -> BotRow:
    application_id = _token(fields.application_id, "applicationId")
    tenant_id = _token(fields.tenant_id, "tenantId")
    secret = _token(fields.client_secret, "clientSecret", MAX_SECRET)
    bot_app_id = _token(fields.bot_app_id, "botAppId")
    bot = await visible_bot(session, caller, sid)
    repo = TeamsRepository(session)
    if fields.enterprise_sid and fields.enterprise_sid != bot.enterprise_sid:
        enterprise = await usable_enterprise(session, caller, fields.enterprise_sid)
        if await repo.bot_of(enterprise.sid) is not None:
            raise _already(enterprise.sid)
        bot.enterprise_sid = enterprise.sid
    if application_id is not None:
        bot.application_id = application_id
    if tenant_id is not None and tenant_id != bot.tenant_id:
        bot.tenant_id = tenant_id
        bot.service_url = None
    if secret is not None:
        bot.client_secret_encrypted = box.encrypt(secret)
    if bot_app_id is not None:
        bot.bot_app_id = bot_app_id
    bot.date_updated = utcnow()
    if not await repo.flush_unique():
        raise _already(bot.enterprise_sid)
    return await repo.bot_row(bot)


async def delete_bot(session: AsyncSession, caller: Account, sid: str) -> BotRow:
    bot = await visible_bot(session, caller, sid)
    repo = TeamsRepository(session)
    row = await repo.bot_row(bot)
    await repo.delete_bot(bot)
    return row


async def get_bot(session: AsyncSession, caller: Account, sid: str) -> BotRow:
    return await TeamsRepository(session).bot_row(await visible_bot(session, caller, sid))


async def list_bots(session: AsyncSession, query: BotQuery) -> tuple[int, list[BotRow]]:
    repo = TeamsRepository(session)
    return await listing(query, repo.count_bots, repo.page_bots)
