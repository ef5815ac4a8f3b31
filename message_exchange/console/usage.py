"""Usage counts the console charts: messages, mappings and enterprises per day or month.

Counted by :func:`message_exchange.exchange.usage.count_usage` (the exchange APIs' usage
records) over what the signed-in account sees: SMS/MMS of its account tree, Teams and
Webex exchange records, mappings and enterprises created (Teams business customers and
Webex enterprises). A business customer admin sees its own business customer's only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from message_exchange.accounts.models import Account
from message_exchange.exchange.models import ExchangeMessage
from message_exchange.exchange.repository import among, visible_accounts
from message_exchange.exchange.usage import Granularity, UsageRecord, UsageWindow, count_usage, usage_window
from message_exchange.messages.models import Message
from message_exchange.msteams.models import BusinessCustomer, TeamsMapping
from message_exchange.msteams.repository import enterprise_visible, visible_enterprise_sids
from message_exchange.webex import usage as webex_usage

PERIODS = ("daily", "monthly")
SERIES = ("messages", "mappings", "enterprises")


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    label: str
    points: list[tuple[date, int]]  # every period of the window, zeros included, oldest first

    @property
    def total(self) -> int:
        return sum(count for _day, count in self.points)


def periods(window: UsageWindow) -> list[date]:
    assert window.start is not None and window.end is not None
    days: list[date] = []
    day = window.start
    while day <= window.end:
        days.append(day)
        day = (
            day + timedelta(days=1)
            if window.granularity is Granularity.DAY
            else date(day.year + day.month // 12, day.month % 12 + 1, 1)
        )
    return days


def _dense(window: UsageWindow, *records: list[UsageRecord]) -> list[tuple[date, int]]:
    counts: dict[date, int] = {}
    for found in records:
        for record in found:
            if record.start is not None:
                counts[record.start] = counts.get(record.start, 0) + record.count
    return [(day, counts.get(day, 0)) for day in periods(window)]


async def usage_series(
    session: AsyncSession, caller: Account, period: str, today: date, *, admin_of: str | None
) -> tuple[UsageWindow, list[Series]]:
    window = usage_window(period if period in PERIODS else "daily", start=None, end=None, today=today)
    accounts = await visible_accounts(session, caller.lineage)
    teams_sids = visible_enterprise_sids(caller.lineage)
    teams_records = [ExchangeMessage.group_sid.in_(teams_sids)]
    sms = await count_usage(session, Message.date_created, [among(Message.account_sid, accounts)], window, "SMS/MMS")
    exchange = await count_usage(
        session, ExchangeMessage.date_created, [among(ExchangeMessage.account_sid, accounts)], window, "records"
    )
    if admin_of is not None:  # the admin's account tree sends nothing itself: its Teams records are its traffic
        sms = []
        exchange = await count_usage(session, ExchangeMessage.date_created, teams_records, window, "records")
    teams_mappings = await count_usage(
        session, TeamsMapping.date_created, [TeamsMapping.enterprise_sid.in_(teams_sids)], window, "Teams mappings"
    )
    teams_enterprises = await count_usage(
        session, BusinessCustomer.date_created, [enterprise_visible(caller.lineage)], window, "business customers"
    )
    webex_mappings = await webex_usage.mappings(session, caller, window, enterprise_sid=None, account_sid=None)
    webex_enterprises = await webex_usage.enterprises(session, caller, window, account_sid=None)
    return window, [
        Series("messages", "Messages (SMS/MMS and exchange records)", _dense(window, sms, exchange)),
        Series("mappings", "Mappings created (Teams and Webex)", _dense(window, teams_mappings, webex_mappings)),
        Series(
            "enterprises",
            "Enterprises created (Teams business customers and Webex enterprises)",
            _dense(window, teams_enterprises, webex_enterprises),
        ),
    ]
