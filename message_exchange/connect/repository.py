"""All SQL of the Messaging API v1. Bulk writes are single multi-row inserts (Core), so a
1,000-destination request costs a handful of statements, not thousands."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from message_exchange.connect.models import (
    ConnectConsent,
    ConnectEvent,
    ConnectLinkDefinition,
    ConnectPolicyGroup,
    ConnectService,
    ConnectShortLink,
    ConnectTemplate,
    ConnectTransaction,
)
from message_exchange.inbound.models import OptOut
from message_exchange.messages.models import Message


class ConnectRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, row: object) -> None:
        self.session.add(row)
        await self.session.flush()

    async def delete(self, row: object) -> None:
        await self.session.delete(row)
        await self.session.flush()

    # -- services, templates, link definitions, policy groups -----------------------------

    async def service_by_key_hash(self, key_hash: str) -> ConnectService | None:
        query = select(ConnectService).where(ConnectService.key_hash == key_hash)
        return (await self.session.execute(query)).scalar_one_or_none()

    async def service(self, sid: str) -> ConnectService | None:
        return await self.session.get(ConnectService, sid)

    async def services_of(self, account_sids: Sequence[str] | None) -> list[ConnectService]:
        query = select(ConnectService).order_by(ConnectService.date_created, ConnectService.sid)
        if account_sids is not None:
            query = query.where(ConnectService.account_sid.in_(account_sids))
        return list((await self.session.execute(query)).scalars())

    async def template(self, service_sid: str, template_id: str) -> ConnectTemplate | None:
        query = select(ConnectTemplate).where(
            ConnectTemplate.service_sid == service_sid, ConnectTemplate.template_id == template_id
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def templates(self, service_sid: str) -> list[ConnectTemplate]:
        query = select(ConnectTemplate).where(ConnectTemplate.service_sid == service_sid)
        return list((await self.session.execute(query.order_by(ConnectTemplate.template_id))).scalars())

    async def link_definition(self, service_sid: str, link_id: str) -> ConnectLinkDefinition | None:
        return await self.session.get(ConnectLinkDefinition, (service_sid, link_id))

    async def link_definitions(self, service_sid: str) -> list[ConnectLinkDefinition]:
        query = select(ConnectLinkDefinition).where(ConnectLinkDefinition.service_sid == service_sid)
        return list((await self.session.execute(query.order_by(ConnectLinkDefinition.link_id))).scalars())

    async def policy_group(self, group_id: str, *, for_update: bool = False) -> ConnectPolicyGroup | None:
        if for_update:
            query = select(ConnectPolicyGroup).where(ConnectPolicyGroup.id == group_id).with_for_update()
            return (await self.session.execute(query)).scalar_one_or_none()
        return await self.session.get(ConnectPolicyGroup, group_id)

    async def policy_groups(self, account_sid: str) -> list[ConnectPolicyGroup]:
        query = select(ConnectPolicyGroup).where(ConnectPolicyGroup.account_sid == account_sid)
        return list((await self.session.execute(query.order_by(ConnectPolicyGroup.date_created))).scalars())

    # -- contact policy -------------------------------------------------------------------

    async def latest_consents(
        self, account_sid: str, group_id: str, channel: str, msisdns: Sequence[str]
    ) -> dict[str, str]:
        """msisdn → its latest consent (``opt_in``/``opt_out``) in ``group_id`` or account-wide."""
        c = ConnectConsent
        query = (
            select(c.msisdn, c.consent)
            .where(
                c.account_sid == account_sid,
                c.msisdn.in_(msisdns),
                c.channel == channel,
                or_(c.group_id == group_id, c.group_id.is_(None)),
            )
            .order_by(c.recorded_at, c.id)
        )
        latest: dict[str, str] = {}
        for msisdn, consent in (await self.session.execute(query)).all():
            latest[msisdn] = consent
        return latest

    async def consents(self, account_sid: str, msisdn: str, group_id: str) -> list[ConnectConsent]:
        c = ConnectConsent
        query = (
            select(c)
            .where(c.account_sid == account_sid, c.msisdn == msisdn, or_(c.group_id == group_id, c.group_id.is_(None)))
            .order_by(c.recorded_at, c.id)
        )
        return list((await self.session.execute(query)).scalars())

    async def opted_out(self, sender: str, msisdns: Sequence[str]) -> set[str]:
        """The destinations that sent STOP to ``sender`` (the inbound opt-out table)."""
        query = select(OptOut.subscriber).where(OptOut.phone_number == sender, OptOut.subscriber.in_(msisdns))
        return {row for (row,) in (await self.session.execute(query)).all()}

    async def cap_usage(self, group_id: str, channel: str, msisdns: Sequence[str], since: datetime) -> dict[str, int]:
        t = ConnectTransaction
        query = (
            select(t.destination, func.count())
            .where(
                t.policy_group == group_id,
                t.destination.in_(msisdns),
                t.created_at >= since,
                t.channel == channel,
                t.counted.is_(True),
            )
            .group_by(t.destination)
        )
        return {destination: int(count) for destination, count in (await self.session.execute(query)).all()}

    # -- accepting a request --------------------------------------------------------------

    async def insert_rows(self, table: Any, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            await self.session.execute(insert(table), list(rows))

    async def accept(
        self,
        messages: Sequence[dict[str, Any]],
        transactions: Sequence[dict[str, Any]],
        links: Sequence[dict[str, Any]],
        events: Sequence[dict[str, Any]],
    ) -> None:
        """One multi-row insert per table (the caller's transaction; jobs are the caller's)."""
        await self.insert_rows(Message.__table__, messages)
        await self.insert_rows(ConnectTransaction.__table__, transactions)
        await self.insert_rows(ConnectShortLink.__table__, links)
        await self.insert_rows(ConnectEvent.__table__, events)

    # -- transactions, events, links ------------------------------------------------------

    async def transaction_of_message(self, message_sid: str, *, for_update: bool = False) -> ConnectTransaction | None:
        query = select(ConnectTransaction).where(ConnectTransaction.message_sid == message_sid)
        if for_update:
            query = query.with_for_update()
        return (await self.session.execute(query)).scalar_one_or_none()

    async def transaction(self, transid: str) -> ConnectTransaction | None:
        return await self.session.get(ConnectTransaction, transid)

    async def transaction_with_message(self, transid: str) -> tuple[ConnectTransaction, Message] | None:
        query = (
            select(ConnectTransaction, Message)
            .join(Message, Message.sid == ConnectTransaction.message_sid)
            .where(ConnectTransaction.transid == transid)
        )
        row = (await self.session.execute(query)).first()
        return None if row is None else (row[0], row[1])

    async def pending_events(self, message_sid: str) -> list[ConnectEvent]:
        query = (
            select(ConnectEvent)
            .where(ConnectEvent.message_sid == message_sid, ConnectEvent.notified.is_(False))
            .order_by(ConnectEvent.id)
        )
        return list((await self.session.execute(query)).scalars())

    async def events_of(self, message_sid: str) -> list[ConnectEvent]:
        query = select(ConnectEvent).where(ConnectEvent.message_sid == message_sid).order_by(ConnectEvent.id)
        return list((await self.session.execute(query)).scalars())

    async def short_link(self, code: str) -> ConnectShortLink | None:
        return await self.session.get(ConnectShortLink, code)

    async def count_click(self, code: str, now: datetime) -> None:
        """One click, counted in the database (concurrent clicks all count)."""
        link = ConnectShortLink
        await self.session.execute(
            update(link)
            .where(link.code == code)
            .values(
                clicks=link.clicks + 1,
                last_clicked_at=now,
                first_clicked_at=func.coalesce(link.first_clicked_at, now),
            )
        )

    async def short_links(
        self, service_sid: str, *, transid: str | None = None, link_id: str | None = None
    ) -> list[ConnectShortLink]:
        link = ConnectShortLink
        query = select(link).where(link.service_sid == service_sid)
        if transid is not None:
            query = query.where(link.transid == transid)
        if link_id is not None:
            query = query.where(link.link_id == link_id)
        return list((await self.session.execute(query.order_by(link.created_at, link.code).limit(10_000))).scalars())

    async def link_totals(self, service_sid: str) -> dict[str, tuple[int, int]]:
        """link id → (short links made, clicks)."""
        link = ConnectShortLink
        query = (
            select(link.link_id, func.count(), func.coalesce(func.sum(link.clicks), 0))
            .where(link.service_sid == service_sid)
            .group_by(link.link_id)
        )
        return {lid: (int(n), int(clicks)) for lid, n, clicks in (await self.session.execute(query)).all()}

    async def batch_statuses(self, batch_id: str) -> list[tuple[str, str]]:
        query = (
            select(ConnectTransaction.transid, Message.status)
            .join(Message, Message.sid == ConnectTransaction.message_sid)
            .where(ConnectTransaction.batch_id == batch_id)
        )
        return [(transid, status) for transid, status in (await self.session.execute(query)).all()]

    async def delete_templates(self, service_sid: str, template_ids: Iterable[str]) -> int:
        result = await self.session.execute(
            delete(ConnectTemplate).where(
                ConnectTemplate.service_sid == service_sid, ConnectTemplate.template_id.in_(list(template_ids))
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)
