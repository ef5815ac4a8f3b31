"""All SQL about business customers, Teams mappings, bot details and media.

Who sees what: a business customer is visible to the account that created it and its
ancestors (the CSP side), and to its admin sub-account and the admin's ancestors. Its
mappings, bot details and message records are visible to whoever sees it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from message_exchange.accounts.models import Account
from message_exchange.core.sorting import Sort
from message_exchange.exchange.models import ExchangeMessage
from message_exchange.exchange.repository import (
    RECORD_SORTS,
    RecordFilter,
    contains,
    count_where,
    named_rows,
    page_of,
    visible_to,
)
from message_exchange.msteams.models import (
    BotDetails,
    BusinessCustomer,
    EnterpriseStatus,
    MappingStatus,
    TeamsMapping,
    TeamsMedia,
)

# Names sort case-insensitively, the same on both backends (their collations differ).
ENTERPRISE_SORTS: dict[str, Any] = {
    "name": func.lower(BusinessCustomer.name),
    "dateCreated": BusinessCustomer.date_created,
}
MAPPING_SORTS: dict[str, Any] = {
    "name": func.lower(TeamsMapping.name),
    "dateCreated": TeamsMapping.date_created,
    "microsoftAddress": func.lower(TeamsMapping.microsoft_address),
    "externalAddress": TeamsMapping.external_address,
    "domain": TeamsMapping.domain,
}
BOT_SORTS: dict[str, Any] = {
    "dateCreated": BotDetails.date_created,
    "applicationId": BotDetails.application_id,
}

_Admin = aliased(Account)


def enterprise_visible(lineage: str) -> ColumnElement[bool]:
    return or_(visible_to(BusinessCustomer.account_sid, lineage), visible_to(BusinessCustomer.admin_sid, lineage))


def visible_enterprise_sids(lineage: str) -> Select[str]:
    return select(BusinessCustomer.sid).where(enterprise_visible(lineage))


@dataclass(frozen=True, slots=True)
class EnterpriseFilter:
    lineage: str
    name: str | None = None
    status: str | None = None
    start: datetime | None = None
    end: datetime | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        where = [enterprise_visible(self.lineage)]
        if self.name is not None:
            where.append(contains(BusinessCustomer.name, self.name))
        if self.status is not None:
            where.append(BusinessCustomer.status == self.status)
        if self.start is not None:
            where.append(BusinessCustomer.date_created >= self.start)
        if self.end is not None:
            where.append(BusinessCustomer.date_created <= self.end)
        return where


@dataclass(frozen=True, slots=True)
class MappingFilter:
    lineage: str
    enterprise_sid: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    name: str | None = None
    microsoft_address: str | None = None
    external_address: str | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        m = TeamsMapping
        where = [m.status == MappingStatus.ACTIVE.value, m.enterprise_sid.in_(visible_enterprise_sids(self.lineage))]
        if self.enterprise_sid is not None:
            where.append(m.enterprise_sid == self.enterprise_sid)
        if self.start is not None:
            where.append(m.date_created >= self.start)
        if self.end is not None:
            where.append(m.date_created <= self.end)
        if self.name is not None:
            where.append(contains(m.name, self.name))
        if self.microsoft_address is not None:
            where.append(contains(m.microsoft_address, self.microsoft_address))
        if self.external_address is not None:
            where.append(contains(m.external_address, self.external_address.strip().lstrip("+")))
        return where


@dataclass(frozen=True, slots=True)
class BotFilter:
    lineage: str
    enterprise_sid: str | None = None
    start: datetime | None = None
    end: datetime | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = [BotDetails.enterprise_sid.in_(visible_enterprise_sids(self.lineage))]
        if self.enterprise_sid is not None:
            where.append(BotDetails.enterprise_sid == self.enterprise_sid)
        if self.start is not None:
            where.append(BotDetails.date_created >= self.start)
        if self.end is not None:
            where.append(BotDetails.date_created <= self.end)
        return where


EnterpriseRow = tuple[BusinessCustomer, str, str]  # + creator email, admin email
MappingRow = tuple[TeamsMapping, str, str]  # + enterprise name, creator email
BotRow = tuple[BotDetails, str, str]  # + enterprise name, creator email


class TeamsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def insert(self, row: BusinessCustomer | TeamsMapping | BotDetails) -> bool:
        """Insert in a savepoint; False when a unique key (a concurrent twin) refused it."""
        try:
            async with self.session.begin_nested():
                self.session.add(row)
                await self.session.flush()
        except IntegrityError:
            return False
        return True

    async def flush_unique(self) -> bool:
        try:
            async with self.session.begin_nested():
                await self.session.flush()
        except IntegrityError:
            return False
        return True

    # Business customers

    async def enterprise(self, sid: str) -> BusinessCustomer | None:
        return await self.session.get(BusinessCustomer, sid)

    async def enterprise_visible_to(self, sid: str, lineage: str) -> BusinessCustomer | None:
        query = select(BusinessCustomer).where(BusinessCustomer.sid == sid, enterprise_visible(lineage))
        return (await self.session.execute(query)).scalar_one_or_none()

    async def name_taken(self, org_sid: str, key: str, *, except_sid: str | None = None) -> bool:
        query = select(BusinessCustomer.sid).where(
            BusinessCustomer.org_sid == org_sid, BusinessCustomer.name_key == key
        )
        if except_sid is not None:
            query = query.where(BusinessCustomer.sid != except_sid)
        return (await self.session.execute(query)).first() is not None

    async def administers(self, account_sid: str) -> bool:
        """Whether the account is the admin of a business customer that is not CLOSED."""
        query = select(BusinessCustomer.sid).where(
            BusinessCustomer.admin_sid == account_sid, BusinessCustomer.status != EnterpriseStatus.CLOSED.value
        )
        return (await self.session.execute(query.limit(1))).first() is not None

    def _enterprise_rows(self) -> Select[BusinessCustomer, str, str]:
        return (
            select(BusinessCustomer, Account.email_address, _Admin.email_address)
            .join(Account, Account.sid == BusinessCustomer.account_sid)
            .join(_Admin, _Admin.sid == BusinessCustomer.admin_sid)
        )

    async def enterprise_row(self, item: BusinessCustomer) -> EnterpriseRow:
        row = (await self.session.execute(self._enterprise_rows().where(BusinessCustomer.sid == item.sid))).one()
        return row[0], str(row[1]), str(row[2])

    async def count_enterprises(self, flt: EnterpriseFilter) -> int:
        return await count_where(self.session, BusinessCustomer, flt.conditions())

    async def page_enterprises(
        self, flt: EnterpriseFilter, sort: Sort, *, offset: int, limit: int
    ) -> list[EnterpriseRow]:
        query = page_of(
            self._enterprise_rows(),
            flt.conditions(),
            sort,
            ENTERPRISE_SORTS,
            BusinessCustomer.sid,
            offset=offset,
            limit=limit,
        )
        return await named_rows(self.session, query)

    # Mappings

    async def mapping(self, sid: str) -> TeamsMapping | None:
        return await self.session.get(TeamsMapping, sid)

    async def live_mapping_visible_to(self, sid: str, lineage: str) -> TeamsMapping | None:
        query = select(TeamsMapping).where(
            TeamsMapping.sid == sid,
            TeamsMapping.status == MappingStatus.ACTIVE.value,
            TeamsMapping.enterprise_sid.in_(visible_enterprise_sids(lineage)),
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def mapping_of_number(self, e164: str) -> TeamsMapping | None:
        query = select(TeamsMapping).where(TeamsMapping.external_key == e164)
        return (await self.session.execute(query)).scalar_one_or_none()

    async def live_mappings(self, enterprise_sid: str) -> list[TeamsMapping]:
        query = select(TeamsMapping).where(
            TeamsMapping.enterprise_sid == enterprise_sid, TeamsMapping.status == MappingStatus.ACTIVE.value
        )
        return list((await self.session.execute(query.order_by(TeamsMapping.date_created))).scalars())

    async def mappings_of_user(self, enterprise_sid: str, aad_object_id: str) -> list[TeamsMapping]:
        """The live mappings of a Teams user (by Azure AD object id), oldest first."""
        query = select(TeamsMapping).where(
            TeamsMapping.enterprise_sid == enterprise_sid,
            TeamsMapping.aad_object_id == aad_object_id,
            TeamsMapping.status == MappingStatus.ACTIVE.value,
        )
        return list((await self.session.execute(query.order_by(TeamsMapping.date_created, TeamsMapping.sid))).scalars())

    def _mapping_rows(self) -> Select[TeamsMapping, str, str]:
        return (
            select(TeamsMapping, BusinessCustomer.name, Account.email_address)
            .join(BusinessCustomer, BusinessCustomer.sid == TeamsMapping.enterprise_sid)
            .join(Account, Account.sid == TeamsMapping.account_sid)
        )

    async def mapping_row(self, item: TeamsMapping) -> MappingRow:
        row = (await self.session.execute(self._mapping_rows().where(TeamsMapping.sid == item.sid))).one()
        return row[0], str(row[1]), str(row[2])

    async def count_mappings(self, flt: MappingFilter) -> int:
        return await count_where(self.session, TeamsMapping, flt.conditions())

    async def page_mappings(self, flt: MappingFilter, sort: Sort, *, offset: int, limit: int) -> list[MappingRow]:
        query = page_of(
            self._mapping_rows(), flt.conditions(), sort, MAPPING_SORTS, TeamsMapping.sid, offset=offset, limit=limit
        )
        return await named_rows(self.session, query)

    # Bot details

    async def bot(self, sid: str) -> BotDetails | None:
        return await self.session.get(BotDetails, sid)

    async def bot_visible_to(self, sid: str, lineage: str) -> BotDetails | None:
        query = select(BotDetails).where(
            BotDetails.sid == sid, BotDetails.enterprise_sid.in_(visible_enterprise_sids(lineage))
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def bot_of(self, enterprise_sid: str) -> BotDetails | None:
        query = select(BotDetails).where(BotDetails.enterprise_sid == enterprise_sid)
        return (await self.session.execute(query)).scalar_one_or_none()

    def _bot_rows(self) -> Select[BotDetails, str, str]:
        return (
            select(BotDetails, BusinessCustomer.name, Account.email_address)
            .join(BusinessCustomer, BusinessCustomer.sid == BotDetails.enterprise_sid)
            .join(Account, Account.sid == BotDetails.account_sid)
        )

    async def bot_row(self, item: BotDetails) -> BotRow:
        row = (await self.session.execute(self._bot_rows().where(BotDetails.sid == item.sid))).one()
        return row[0], str(row[1]), str(row[2])

    async def count_bots(self, flt: BotFilter) -> int:
        return await count_where(self.session, BotDetails, flt.conditions())

    async def page_bots(self, flt: BotFilter, sort: Sort, *, offset: int, limit: int) -> list[BotRow]:
        query = page_of(self._bot_rows(), flt.conditions(), sort, BOT_SORTS, BotDetails.sid, offset=offset, limit=limit)
        return await named_rows(self.session, query)

    async def delete_bot(self, item: BotDetails) -> None:
        await self.session.delete(item)
        await self.session.flush()

    # Message records (the shared exchange_messages table, this channel's rows)

    async def _record_query(self, flt: RecordFilter) -> list[ColumnElement[bool]] | None:
        """The record conditions for the caller: rows of business customers it sees."""
        enterprises = visible_enterprise_sids(flt.lineage)
        accounts = select(TeamsMapping.account_sid).where(TeamsMapping.enterprise_sid.in_(enterprises)).distinct()
        visible: Sequence[str] = list((await self.session.execute(accounts)).scalars())
        if not visible:
            return None
        return [*flt.conditions(visible), ExchangeMessage.group_sid.in_(enterprises)]

    async def count_records(self, flt: RecordFilter) -> int:
        where = await self._record_query(flt)
        if where is None:
            return 0
        return await count_where(self.session, ExchangeMessage, where)

    async def page_records(self, flt: RecordFilter, sort: Sort, *, offset: int, limit: int) -> list[ExchangeMessage]:
        where = await self._record_query(flt)
        if where is None:
            return []
        query = page_of(
            select(ExchangeMessage), where, sort, RECORD_SORTS, ExchangeMessage.sid, offset=offset, limit=limit
        )
        return list((await self.session.execute(query)).scalars())

    async def record_visible_to(self, sid: str, channel: str, lineage: str) -> ExchangeMessage | None:
        query = select(ExchangeMessage).where(
            ExchangeMessage.sid == sid,
            ExchangeMessage.channel == channel,
            ExchangeMessage.group_sid.in_(visible_enterprise_sids(lineage)),
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    # Media

    async def add_media(self, media: TeamsMedia) -> None:
        self.session.add(media)
        await self.session.flush()

    async def media(self, sid: str) -> TeamsMedia | None:
        return await self.session.get(TeamsMedia, sid)
