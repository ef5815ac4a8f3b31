"""All SQL about Webex enterprises, mappings and bots."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from message_exchange.accounts.models import Account
from message_exchange.core.sorting import Sort
from message_exchange.exchange.repository import contains, count_where, named_rows, page_of, visible_to
from message_exchange.webex.models import Bot, Enterprise, Mapping, Status

_MAPPINGS_COUNT = (
    select(func.count())
    .select_from(Mapping)
    .where(Mapping.enterprise_sid == Enterprise.sid, Mapping.status == Status.ACTIVE.value)
    .correlate(Enterprise)
    .scalar_subquery()
)

# Names sort case-insensitively, the same on both backends (their collations differ).
ENTERPRISE_SORTS: dict[str, Any] = {
    "name": func.lower(Enterprise.name),
    "dateUpdated": Enterprise.date_updated,
    "mappings": _MAPPINGS_COUNT,
}
MAPPING_SORTS: dict[str, Any] = {
    "name": func.lower(Mapping.name),
    "dateUpdated": Mapping.date_updated,
    "webexAddress": func.lower(Mapping.webex_address),
    "externalAddress": Mapping.external_address,
}


@dataclass(frozen=True, slots=True)
class EnterpriseFilter:
    lineage: str
    name: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    account_sid: str | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        where = [Enterprise.status == Status.ACTIVE.value, visible_to(Enterprise.account_sid, self.lineage)]
        if self.name is not None:
            where.append(contains(Enterprise.name, self.name))
        if self.start is not None:
            where.append(Enterprise.date_created >= self.start)
        if self.end is not None:
            where.append(Enterprise.date_created <= self.end)
        if self.account_sid is not None:
            where.append(Enterprise.account_sid == self.account_sid)
        return where


@dataclass(frozen=True, slots=True)
class MappingFilter:
    lineage: str
    enterprise_sid: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    name: str | None = None
    webex_address: str | None = None
    external_address: str | None = None
    account_sid: str | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        where = [Mapping.status == Status.ACTIVE.value, visible_to(Mapping.account_sid, self.lineage)]
        if self.enterprise_sid is not None:
            where.append(Mapping.enterprise_sid == self.enterprise_sid)
        if self.start is not None:
            where.append(Mapping.date_created >= self.start)
        if self.end is not None:
            where.append(Mapping.date_created <= self.end)
        if self.name is not None:
            where.append(contains(Mapping.name, self.name))
        if self.webex_address is not None:
            where.append(contains(Mapping.webex_address, self.webex_address))
        if self.external_address is not None:
            where.append(contains(Mapping.external_address, self.external_address.strip().lstrip("+")))
        if self.account_sid is not None:
            where.append(Mapping.account_sid == self.account_sid)
        return where


EnterpriseRow = tuple[Enterprise, int, str]
MappingRow = tuple[Mapping, str, str]


class WebexRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _insert(self, row: Enterprise | Mapping) -> bool:
        """Insert in a savepoint; False when a unique key (a concurrent twin) refused it."""
        try:
            async with self.session.begin_nested():
                self.session.add(row)
                await self.session.flush()
        except IntegrityError:
            return False
        return True

    async def _flush_unique(self) -> bool:
        try:
            async with self.session.begin_nested():
                await self.session.flush()
        except IntegrityError:
            return False
        return True

    # Enterprises

    async def add_enterprise(self, enterprise: Enterprise) -> bool:
        return await self._insert(enterprise)

    async def save_enterprise(self) -> bool:
        return await self._flush_unique()

    async def enterprise(self, sid: str) -> Enterprise | None:
        query = select(Enterprise).where(Enterprise.sid == sid, Enterprise.status == Status.ACTIVE.value)
        return (await self.session.execute(query)).scalar_one_or_none()

    async def enterprise_name_taken(self, org_sid: str, key: str, *, except_sid: str | None = None) -> bool:
        query = select(Enterprise.sid).where(Enterprise.org_sid == org_sid, Enterprise.name_key == key)
        if except_sid is not None:
            query = query.where(Enterprise.sid != except_sid)
        return (await self.session.execute(query)).first() is not None

    async def mappings_count(self, enterprise_sid: str) -> int:
        query = (
            select(func.count())
            .select_from(Mapping)
            .where(Mapping.enterprise_sid == enterprise_sid, Mapping.status == Status.ACTIVE.value)
        )
        return int((await self.session.execute(query)).scalar_one())

    def _enterprise_rows(self) -> Select[Any]:
        return select(Enterprise, _MAPPINGS_COUNT, Account.email_address).join(
            Account, Account.sid == Enterprise.account_sid
        )

    async def count_enterprises(self, flt: EnterpriseFilter) -> int:
        return await count_where(self.session, Enterprise, flt.conditions())

    async def page_enterprises(
        self, flt: EnterpriseFilter, sort: Sort, *, offset: int, limit: int
    ) -> list[EnterpriseRow]:
        query = page_of(
            self._enterprise_rows(),
            flt.conditions(),
            sort,
            ENTERPRISE_SORTS,
            Enterprise.sid,
            offset=offset,
            limit=limit,
        )
        return [(row[0], int(row[1]), str(row[2])) for row in await self.session.execute(query)]

    # Mappings

    async def add_mapping(self, mapping: Mapping) -> bool:
        return await self._insert(mapping)

    async def mapping(self, sid: str) -> Mapping | None:
        query = select(Mapping).where(Mapping.sid == sid, Mapping.status == Status.ACTIVE.value)
        return (await self.session.execute(query)).scalar_one_or_none()

    async def any_mapping(self, sid: str) -> Mapping | None:
        """A mapping, deleted or not (a conversation outlives its mapping)."""
        return await self.session.get(Mapping, sid)

    async def mapping_of_number(self, e164: str) -> Mapping | None:
        query = select(Mapping).where(Mapping.external_key == e164)
        return (await self.session.execute(query)).scalar_one_or_none()

    async def webex_address_taken(self, org_sid: str, key: str) -> bool:
        query = select(Mapping.sid).where(Mapping.org_sid == org_sid, Mapping.webex_key == key)
        return (await self.session.execute(query)).first() is not None

    async def live_mappings_of_org(self, org_sid: str, address: str) -> Sequence[Mapping]:
        """Live mappings of an organisation whose webexAddress mentions ``address`` (checked by the caller)."""
        query = select(Mapping).where(
            Mapping.org_sid == org_sid, Mapping.status == Status.ACTIVE.value, contains(Mapping.webex_key, address)
        )
        return list((await self.session.execute(query)).scalars())

    def _mapping_rows(self) -> Select[Mapping, str, str]:
        return (
            select(Mapping, Enterprise.name, Account.email_address)
            .join(Enterprise, Enterprise.sid == Mapping.enterprise_sid)
            .join(Account, Account.sid == Mapping.account_sid)
        )

    async def mapping_row(self, mapping: Mapping) -> MappingRow:
        row = (await self.session.execute(self._mapping_rows().where(Mapping.sid == mapping.sid))).one()
        return row[0], str(row[1]), str(row[2])

    async def count_mappings(self, flt: MappingFilter) -> int:
        return await count_where(self.session, Mapping, flt.conditions())

    async def page_mappings(self, flt: MappingFilter, sort: Sort, *, offset: int, limit: int) -> list[MappingRow]:
        query = page_of(
            self._mapping_rows(), flt.conditions(), sort, MAPPING_SORTS, Mapping.sid, offset=offset, limit=limit
        )
        return await named_rows(self.session, query)

    # Bots

    async def bot(self, account_sid: str) -> Bot | None:
        return await self.session.get(Bot, account_sid)

    async def nearest_bot(self, account_sids: Sequence[str]) -> Bot | None:
        """The bot of the first account in ``account_sids`` that has one (self, then ancestors)."""
        rows = {
            bot.account_sid: bot
            for bot in (
                await self.session.execute(select(Bot).where(Bot.account_sid.in_(list(account_sids))))
            ).scalars()
        }
        for sid in account_sids:
            if sid in rows:
                return rows[sid]
        return None

    async def save_bot(self, bot: Bot) -> None:
        self.session.add(bot)
        await self.session.flush()

    async def delete_bot(self, bot: Bot) -> None:
        await self.session.delete(bot)
        await self.session.flush()
