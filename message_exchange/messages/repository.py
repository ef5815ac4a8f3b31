"""All SQL about messages."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from message_exchange.core.sorting import Sort
from message_exchange.db.deferred import defer_insert
from message_exchange.messages.models import Message, MessageEvent

_events = cast(Table, MessageEvent.__table__)

SORTABLE: dict[str, InstrumentedAttribute[Any]] = {
    "DateCreated": Message.date_created,
    "From": Message.from_address,
    "To": Message.to_address,
    "Direction": Message.direction,
    "Status": Message.status,
}


@dataclass(frozen=True, slots=True)
class AddressPattern:
    """A ``To``/``From`` filter: optional channel, address as a LIKE pattern."""

    channel: str | None
    like: str


@dataclass(frozen=True, slots=True)
class MessageFilter:
    account_sid: str
    to: AddressPattern | None = None
    from_: AddressPattern | None = None
    status: str | None = None
    error_code: int | None = None
    body: str | None = None
    start: datetime | None = None
    end: datetime | None = None


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("_", "\\_")


def address_pattern(value: str) -> AddressPattern:
    """``sms:+1%`` → channel sms, ``+1%``; a plain value is a prefix (``%`` is the wildcard)."""
    channel, sep, address = value.partition(":")
    if not sep:
        channel, address = "", value
    like = _escape_like(address)
    if not like.endswith("%"):
        like += "%"
    return AddressPattern(channel=channel.lower() or None, like=like)


# The Core table: a bulk insert through it skips the ORM's per-object bookkeeping.
_messages = cast(Table, Message.__table__)


class MessageRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, message: Message) -> None:
        self.session.add(message)
        await self.session.flush()

    async def insert_many(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert new messages (dicts of column values) in one statement, bypassing the unit of work."""
        if rows:
            await self.session.execute(insert(_messages), list(rows))

    async def get(self, sid: str, *, for_update: bool = False) -> Message | None:
        query = select(Message).where(Message.sid == sid)
        if for_update:
            query = query.with_for_update()
        return (await self.session.execute(query)).scalar_one_or_none()

    async def get_many(self, sids: Collection[str], *, for_update: bool = False) -> dict[str, Message]:
        """The messages of ``sids`` that exist, by sid (one query)."""
        if not sids:
            return {}
        query = select(Message).where(Message.sid.in_(sorted(sids))).order_by(Message.sid)
        if for_update:
            query = query.with_for_update()
        return {message.sid: message for message in (await self.session.execute(query)).scalars()}

    async def by_carrier_ids(self, carrier: str, carrier_message_ids: Collection[str]) -> dict[str, Message]:
        """The messages ``carrier`` knows by those ids, by carrier message id, locked (one query)."""
        if not carrier_message_ids:
            return {}
        query = (
            select(Message)
            .where(Message.carrier == carrier, Message.carrier_message_id.in_(sorted(carrier_message_ids)))
            .order_by(Message.sid)
            .with_for_update()
        )
        found = (await self.session.execute(query)).scalars()
        return {message.carrier_message_id: message for message in found if message.carrier_message_id}

    def add_event(self, values: dict[str, Any]) -> None:
        """A status-history row (``MessageEvent`` column values), inserted with the batch's
        others at the transaction's next flush or commit (:mod:`message_exchange.db.deferred`)."""
        defer_insert(self.session, _events, values)

    async def events(self, sid: str) -> list[MessageEvent]:
        query = (
            select(MessageEvent)
            .where(MessageEvent.message_sid == sid)
            .order_by(MessageEvent.occurred_at, MessageEvent.id)
        )
        return list((await self.session.execute(query)).scalars())

    async def get_for_account(self, account_sid: str, sid: str) -> Message | None:
        query = select(Message).where(Message.sid == sid, Message.account_sid == account_sid)
        return (await self.session.execute(query)).scalar_one_or_none()

    async def by_carrier_id(self, carrier: str, carrier_message_id: str) -> Message | None:
        query = select(Message).where(Message.carrier == carrier, Message.carrier_message_id == carrier_message_id)
        return (await self.session.execute(query.with_for_update())).scalar_one_or_none()

    def _conditions(self, flt: MessageFilter) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = [Message.account_sid == flt.account_sid]
        for pattern, column in ((flt.to, Message.to_address), (flt.from_, Message.from_address)):
            if pattern is None:
                continue
            if pattern.channel is not None:
                conditions.append(Message.channel == pattern.channel)
            conditions.append(column.like(pattern.like, escape="\\"))
        if flt.status is not None:
            conditions.append(Message.status == flt.status)
        if flt.error_code is not None:
            conditions.append(Message.error_code == flt.error_code)
        if flt.body:
            conditions.append(Message.body.ilike(f"%{_escape_like(flt.body)}%", escape="\\"))
        if flt.start is not None:
            conditions.append(Message.date_created >= flt.start)
        if flt.end is not None:
            conditions.append(Message.date_created <= flt.end)
        return conditions

    async def count(self, flt: MessageFilter) -> int:
        query = select(func.count()).select_from(Message).where(*self._conditions(flt))
        return int((await self.session.execute(query)).scalar_one())

    async def page(self, flt: MessageFilter, sort: Sort, *, offset: int, limit: int) -> list[Message]:
        column = SORTABLE[sort.attribute]
        order = column.desc() if sort.descending else column.asc()
        tiebreak = Message.sid.desc() if sort.descending else Message.sid.asc()
        query = select(Message).where(*self._conditions(flt)).order_by(order, tiebreak).offset(offset).limit(limit)
        return list((await self.session.execute(query)).scalars())
