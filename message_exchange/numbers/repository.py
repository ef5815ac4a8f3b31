"""All SQL about incoming phone numbers."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from message_exchange.core.sorting import Sort
from message_exchange.numbers.models import IncomingPhoneNumber

SORTABLE: dict[str, InstrumentedAttribute[Any]] = {
    "DateCreated": IncomingPhoneNumber.date_created,
    "PhoneNumber": IncomingPhoneNumber.phone_number,
    "FriendlyName": IncomingPhoneNumber.friendly_name,
}

_LIKE_ESCAPE = "\\"


def like_prefix(pattern: str) -> str:
    """A LIKE pattern matching values that start with ``pattern``, where only ``%`` is a wildcard.

    ``_`` and the escape character are matched literally.
    """
    escaped = pattern.replace(_LIKE_ESCAPE, _LIKE_ESCAPE * 2).replace("_", f"{_LIKE_ESCAPE}_")
    return escaped if escaped.endswith("%") else f"{escaped}%"


@dataclass(frozen=True, slots=True)
class NumberFilter:
    account_sid: str
    phone_number: str | None = None
    friendly_name: str | None = None


class NumberRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, sid: str) -> IncomingPhoneNumber | None:
        return await self.session.get(IncomingPhoneNumber, sid)

    async def get_by_phone_number(self, e164: str) -> IncomingPhoneNumber | None:
        query = select(IncomingPhoneNumber).where(IncomingPhoneNumber.phone_number == e164)
        return (await self.session.execute(query)).scalar_one_or_none()

    async def by_phone_numbers(self, e164s: Collection[str]) -> dict[str, IncomingPhoneNumber]:
        """The records of those of ``e164s`` that exist, by number (one query)."""
        if not e164s:
            return {}
        query = select(IncomingPhoneNumber).where(IncomingPhoneNumber.phone_number.in_(sorted(e164s)))
        return {number.phone_number: number for number in (await self.session.scalars(query))}

    async def add(self, number: IncomingPhoneNumber) -> None:
        self.session.add(number)
        await self.session.flush()

    async def delete(self, number: IncomingPhoneNumber) -> None:
        await self.session.delete(number)
        await self.session.flush()

    def _filtered(self, flt: NumberFilter) -> list[ColumnElement[bool]]:
        conditions = [IncomingPhoneNumber.account_sid == flt.account_sid]
        if flt.phone_number is not None:
            conditions.append(IncomingPhoneNumber.phone_number.like(like_prefix(flt.phone_number), escape=_LIKE_ESCAPE))
        if flt.friendly_name is not None:
            # Case-insensitive on both backends (SQLite's LIKE already is, PostgreSQL's is not).
            pattern = like_prefix(flt.friendly_name.lower())
            conditions.append(func.lower(IncomingPhoneNumber.friendly_name).like(pattern, escape=_LIKE_ESCAPE))
        return conditions

    async def count(self, flt: NumberFilter) -> int:
        query = select(func.count()).select_from(IncomingPhoneNumber).where(*self._filtered(flt))
        return int((await self.session.execute(query)).scalar_one())

    async def page(self, flt: NumberFilter, sort: Sort, *, offset: int, limit: int) -> list[IncomingPhoneNumber]:
        column = SORTABLE[sort.attribute]
        order = column.desc() if sort.descending else column.asc()
        tiebreak = IncomingPhoneNumber.sid.desc() if sort.descending else IncomingPhoneNumber.sid.asc()
        query = (
            select(IncomingPhoneNumber)
            .where(*self._filtered(flt))
            .order_by(order, tiebreak)
            .offset(offset)
            .limit(limit)
        )
        return list((await self.session.execute(query)).scalars())

    async def all(self, account_sid: str | None = None) -> list[IncomingPhoneNumber]:
        query = select(IncomingPhoneNumber).order_by(IncomingPhoneNumber.phone_number)
        if account_sid is not None:
            query = query.where(IncomingPhoneNumber.account_sid == account_sid)
        return list((await self.session.execute(query)).scalars())
