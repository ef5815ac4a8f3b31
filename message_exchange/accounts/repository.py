"""All SQL about accounts."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from message_exchange.accounts.models import Account, AccountStatus
from message_exchange.core.sorting import Sort

SORTABLE: dict[str, InstrumentedAttribute[Any]] = {
    "DateCreated": Account.date_created,
    "FriendlyName": Account.friendly_name,
    "EmailAddress": Account.email_address,
    "Status": Account.status,
}


@dataclass(frozen=True, slots=True)
class AccountFilter:
    lineage_prefix: str
    status: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None


@dataclass(frozen=True, slots=True)
class AuthRow:
    sid: str
    lineage: str
    status: str
    auth_token_hash: str
    password_hash: str | None


class AccountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, sid: str) -> Account | None:
        return await self.session.get(Account, sid)

    async def get_by_email(self, email: str) -> Account | None:
        result = await self.session.execute(select(Account).where(Account.email_address == email.lower()))
        return result.scalar_one_or_none()

    async def email_taken(self, email: str, *, except_sid: str | None = None) -> bool:
        query = select(Account.sid).where(Account.email_address == email.lower())
        if except_sid is not None:
            query = query.where(Account.sid != except_sid)
        return (await self.session.execute(query.limit(1))).first() is not None

    async def auth_rows(self, sids: Collection[str]) -> dict[str, AuthRow]:
        """What re-checking a remembered caller needs, for each of ``sids`` that exists (one query)."""
        if not sids:
            return {}
        table = cast(Table, Account.__table__)
        query = select(
            table.c.sid, table.c.lineage, table.c.status, table.c.auth_token_hash, table.c.password_hash
        ).where(table.c.sid.in_(sorted(sids)))
        return {row.sid: AuthRow(*row) for row in await self.session.execute(query)}

    async def add(self, account: Account) -> None:
        self.session.add(account)
        await self.session.flush()

    async def statuses(self, sids: Sequence[str]) -> list[str]:
        if not sids:
            return []
        result = await self.session.execute(select(Account.status).where(Account.sid.in_(sids)))
        return list(result.scalars())

    def _filtered(self, flt: AccountFilter) -> list[ColumnElement[bool]]:
        conditions = [Account.lineage.startswith(flt.lineage_prefix, autoescape=True)]
        if flt.status is not None:
            conditions.append(Account.status == flt.status)
        if flt.created_from is not None:
            conditions.append(Account.date_created >= flt.created_from)
        if flt.created_to is not None:
            conditions.append(Account.date_created <= flt.created_to)
        return conditions

    async def count(self, flt: AccountFilter) -> int:
        result = await self.session.execute(select(func.count()).select_from(Account).where(*self._filtered(flt)))
        return int(result.scalar_one())

    async def page(self, flt: AccountFilter, sort: Sort, *, offset: int, limit: int) -> list[Account]:
        column = SORTABLE[sort.attribute]
        order = column.desc() if sort.descending else column.asc()
        tiebreak = Account.sid.desc() if sort.descending else Account.sid.asc()
        query = select(Account).where(*self._filtered(flt)).order_by(order, tiebreak).offset(offset).limit(limit)
        return list((await self.session.execute(query)).scalars())

    async def all(self) -> list[Account]:
        return list((await self.session.execute(select(Account).order_by(Account.lineage))).scalars())

    async def close_descendants(self, lineage: str, when: datetime) -> None:
        await self.session.execute(
            update(Account)
            .where(Account.lineage.startswith(lineage, autoescape=True), Account.lineage != lineage)
            .values(status=AccountStatus.CLOSED, date_updated=when)
        )
