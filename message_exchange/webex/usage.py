"""Usage records of the Webex exchange: enterprises created, mappings created, messages."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from message_exchange.accounts.models import Account
from message_exchange.exchange.models import ExchangeMessage
from message_exchange.exchange.repository import RecordFilter, visible_accounts, visible_to
from message_exchange.exchange.usage import UsageRecord, UsageWindow, count_usage
from message_exchange.webex.models import Enterprise, Mapping

ENTERPRISES = "Enterprise created"
MAPPINGS = "Webex mapping created"
MESSAGES = "Total Messages"


async def enterprises(
    session: AsyncSession, caller: Account, window: UsageWindow, *, account_sid: str | None
) -> list[UsageRecord]:
    # Deleted enterprises still count: they were created in the period.
    conditions = [visible_to(Enterprise.account_sid, caller.lineage)]
    if account_sid is not None:
        conditions.append(Enterprise.account_sid == account_sid)
    return await count_usage(session, Enterprise.date_created, conditions, window, ENTERPRISES)


async def mappings(
    session: AsyncSession,
    caller: Account,
    window: UsageWindow,
    *,
    enterprise_sid: str | None,
    account_sid: str | None,
) -> list[UsageRecord]:
    conditions = [visible_to(Mapping.account_sid, caller.lineage)]
    if enterprise_sid is not None:
        conditions.append(Mapping.enterprise_sid == enterprise_sid)
    if account_sid is not None:
        conditions.append(Mapping.account_sid == account_sid)
    return await count_usage(session, Mapping.date_created, conditions, window, MAPPINGS)


async def messages(session: AsyncSession, flt: RecordFilter, window: UsageWindow) -> list[UsageRecord]:
    conditions = flt.conditions(await visible_accounts(session, flt.lineage))
    return await count_usage(session, ExchangeMessage.date_created, conditions, window, MESSAGES)
