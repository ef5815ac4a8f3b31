"""All SQL about conversations, message records and chat receipts (any channel)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, TypeVarTuple

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from message_exchange.accounts.models import Account
from message_exchange.core.sorting import Sort
from message_exchange.db.engine import on_postgres
from message_exchange.exchange.models import ChatReceipt, Conversation, ExchangeMessage

LIKE_ESCAPE = "\\"

M = TypeVar("M")
Ts = TypeVarTuple("Ts")

RECORD_SORTS: dict[str, InstrumentedAttribute[Any]] = {
    "dateCreated": ExchangeMessage.date_created,
    "from": ExchangeMessage.from_address,
    "to": ExchangeMessage.to_address,
}


def _escaped(text: str) -> str:
    return text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", f"{LIKE_ESCAPE}%").replace("_", f"{LIKE_ESCAPE}_")


def contains(column: Any, text: str) -> ColumnElement[bool]:
    """Case-insensitive "matches partially or fully in any position" (the documents' wording)."""
    return func.lower(column).like(f"%{_escaped(text.lower())}%", escape=LIKE_ESCAPE)


def address_is(column: Any, text: str) -> ColumnElement[bool]:
    """An address filter: exact (case-insensitive), ``%`` a wildcard; a number matches with or without ``+``."""
    value = text.strip().lower()
    if value.startswith("+"):
        value = value[1:]
    if "%" in value:
        pattern = value.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("_", f"{LIKE_ESCAPE}_")
        return or_(
            func.lower(column).like(pattern, escape=LIKE_ESCAPE),
            func.lower(column).like(f"+{pattern}", escape=LIKE_ESCAPE),
        )
    return func.lower(column).in_((value, f"+{value}"))


def address_among(column: Any, text: str) -> ColumnElement[bool]:
    """:func:`address_is`, or (no wildcard) one member of a comma-separated list such as a group
    mapping's ``ann@x.com,bob@x.com``: a message to a group was sent to each of its members."""
    exact = address_is(column, text)
    value = text.strip().lower()
    if "%" in value or "," in value or not value:
        return exact
    member = _escaped(value)
    lowered = func.lower(column)
    return or_(
        exact,
        lowered.like(f"{member},%", escape=LIKE_ESCAPE),
        lowered.like(f"%,{member}", escape=LIKE_ESCAPE),
        lowered.like(f"%,{member},%", escape=LIKE_ESCAPE),
    )


def visible_to(column: Any, lineage: str) -> ColumnElement[bool]:
    """Rows of the account with ``lineage`` or of any of its descendants."""
    accounts = select(Account.sid).where(Account.lineage.like(f"{_escaped(lineage)}%", escape=LIKE_ESCAPE))
    condition: ColumnElement[bool] = column.in_(accounts)
    return condition


async def visible_accounts(session: AsyncSession, lineage: str) -> list[str]:
    """The sids of the account with ``lineage`` and its descendants (a short list)."""
    query = select(Account.sid).where(Account.lineage.like(f"{_escaped(lineage)}%", escape=LIKE_ESCAPE))
    return list((await session.execute(query)).scalars())


def among(column: Any, sids: Sequence[str]) -> ColumnElement[bool]:
    """``column`` is one of ``sids``; an equality when there is one, so its index also orders the rows."""
    condition: ColumnElement[bool] = column == sids[0] if len(sids) == 1 else column.in_(list(sids))
    return condition


def ordered(sort: Sort, columns: dict[str, Any], tiebreak: Any) -> list[Any]:
    column = columns[sort.attribute]
    if sort.descending:
        return [column.desc(), tiebreak.desc()]
    return [column.asc(), tiebreak.asc()]


async def count_where(session: AsyncSession, model: Any, conditions: Sequence[ColumnElement[bool]]) -> int:
    """``SELECT count(*) FROM model WHERE conditions`` (a listing's total)."""
    query = select(func.count()).select_from(model).where(*conditions)
    return int((await session.execute(query)).scalar_one())


def page_of(
    query: Select[*Ts],
    conditions: Sequence[ColumnElement[bool]],
    sort: Sort,
    columns: dict[str, Any],
    tiebreak: Any,
    *,
    offset: int,
    limit: int,
) -> Select[*Ts]:
    """``query`` filtered by ``conditions``, sorted by ``sort`` (then ``tiebreak``), one page of it."""
    return query.where(*conditions).order_by(*ordered(sort, columns, tiebreak)).offset(offset).limit(limit)


# The period a timestamp falls in, as text (``2019-09-03``, ``2019-09``, ``2019``), in UTC:
# PostgreSQL's to_char pattern, SQLite's strftime one (SQLite keeps naive UTC).
_PERIOD_PATTERNS = {"day": ("YYYY-MM-DD", "%Y-%m-%d"), "month": ("YYYY-MM", "%Y-%m"), "year": ("YYYY", "%Y")}


async def count_per_period(
    session: AsyncSession, column: Any, conditions: Sequence[ColumnElement[bool]], period: str
) -> list[tuple[str, int]]:
    """The rows matching ``conditions`` counted per ``period`` (day, month, year) of ``column``, oldest
    first: ``[("2019-09", 12), …]`` (periods without rows left out). One ``GROUP BY`` query."""
    postgres, sqlite = _PERIOD_PATTERNS[period]
    if on_postgres(session):
        key = func.to_char(func.timezone("UTC", column), postgres).label("period")
    else:
        key = func.strftime(sqlite, column).label("period")
    query = select(key, func.count()).select_from(column.class_).where(*conditions).group_by(key).order_by(key)
    return [(str(period), int(count)) for period, count in await session.execute(query)]


async def named_rows(session: AsyncSession, query: Select[M, Any, Any]) -> list[tuple[M, str, str]]:
    """The rows of ``query`` — an item with two names joined to it (say its enterprise's and its creator's)."""
    return [(row[0], str(row[1]), str(row[2])) for row in await session.execute(query)]


@dataclass(frozen=True, slots=True)
class RecordFilter:
    channel: str
    lineage: str  # the caller's: only its own and its descendants' records
    account_sid: str | None = None
    group_sid: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    to: str | None = None
    from_: str | None = None
    direction: str | None = None
    type: str | None = None
    channel_status: str | None = None
    channel_error_code: str | None = None
    channel_error_message: str | None = None
    # ``to`` / ``from`` also match one member of a comma-separated address list (group mappings).
    address_lists: bool = False

    def conditions(self, visible: Sequence[str]) -> list[ColumnElement[bool]]:
        """The WHERE clause; ``visible`` are the caller's account and its descendants (:func:`visible_accounts`)."""
        m = ExchangeMessage
        where = [m.channel == self.channel, among(m.account_sid, visible)]
        if self.account_sid is not None:
            where.append(m.account_sid == self.account_sid)
        if self.group_sid is not None:
            where.append(m.group_sid == self.group_sid)
        if self.start is not None:
            where.append(m.date_created >= self.start)
        if self.end is not None:
            where.append(m.date_created <= self.end)
        match = address_among if self.address_lists else address_is
        if self.to is not None:
            where.append(match(m.to_address, self.to))
        if self.from_ is not None:
            where.append(match(m.from_address, self.from_))
        if self.direction is not None:
            where.append(m.direction == self.direction)
        if self.type is not None:
            where.append(m.type == self.type)
        if self.channel_status is not None:
            where.append(contains(m.channel_status, self.channel_status))
        if self.channel_error_code is not None:
            where.append(contains(m.channel_error_code, self.channel_error_code))
        if self.channel_error_message is not None:
            where.append(contains(m.channel_error_message, self.channel_error_message))
        return where


class ExchangeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # Conversations

    async def conversation(self, sid: str, *, for_update: bool = False) -> Conversation | None:
        query = select(Conversation).where(Conversation.sid == sid)
        if for_update:
            query = query.with_for_update()
        return (await self.session.execute(query)).scalar_one_or_none()

    async def conversation_of(self, channel: str, mapping_sid: str, remote: str) -> Conversation | None:
        query = select(Conversation).where(
            Conversation.channel == channel,
            Conversation.mapping_sid == mapping_sid,
            Conversation.remote_address == remote,
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def conversation_in_space(self, channel: str, space_id: str) -> Conversation | None:
        query = select(Conversation).where(Conversation.channel == channel, Conversation.space_id == space_id)
        return (await self.session.execute(query)).scalar_one_or_none()

    async def add_conversation(self, conversation: Conversation) -> bool:
        """Insert; False when a concurrent transaction made the same conversation first."""
        try:
            async with self.session.begin_nested():
                self.session.add(conversation)
                await self.session.flush()
        except IntegrityError:
            return False
        return True

    # Receipts

    async def add_receipt(self, receipt: ChatReceipt) -> bool:
        """Record a chat message id once; False (nothing written) when it was seen before."""
        try:
            async with self.session.begin_nested():
                self.session.add(receipt)
                await self.session.flush()
        except IntegrityError:
            return False
        return True

    # Message records

    async def add_record(self, record: ExchangeMessage) -> None:
        self.session.add(record)
        await self.session.flush()

    async def record(self, sid: str) -> ExchangeMessage | None:
        return await self.session.get(ExchangeMessage, sid)

    async def record_of_message(self, message_sid: str) -> ExchangeMessage | None:
        query = select(ExchangeMessage).where(ExchangeMessage.message_sid == message_sid).limit(1)
        return (await self.session.execute(query)).scalar_one_or_none()

    async def waits_behind(self, record: ExchangeMessage) -> bool:
        """Whether an older message of the same conversation and direction is still ``queued``."""
        m = ExchangeMessage
        query = (
            select(m.sid)
            .where(
                m.conversation_sid == record.conversation_sid,
                m.direction == record.direction,
                m.channel_status == "queued",
                or_(
                    m.date_created < record.date_created,
                    and_(m.date_created == record.date_created, m.sid < record.sid),
                ),
            )
            .limit(1)
        )
        return (await self.session.execute(query)).first() is not None

    async def count_records(self, flt: RecordFilter) -> int:
        visible = await visible_accounts(self.session, flt.lineage)
        return await count_where(self.session, ExchangeMessage, flt.conditions(visible))

    async def page_records(self, flt: RecordFilter, sort: Sort, *, offset: int, limit: int) -> list[ExchangeMessage]:
        visible = await visible_accounts(self.session, flt.lineage)
        query = page_of(
            select(ExchangeMessage),
            flt.conditions(visible),
            sort,
            RECORD_SORTS,
            ExchangeMessage.sid,
            offset=offset,
            limit=limit,
        )
        return list((await self.session.execute(query)).scalars())
