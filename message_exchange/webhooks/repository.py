"""All SQL about webhook deliveries and their attempts."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, and_, any_, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from message_exchange.db.deferred import defer_insert
from message_exchange.db.engine import on_postgres
from message_exchange.webhooks.models import DeliveryStatus, PendingDelivery, WebhookAttempt, WebhookDelivery

_deliveries = cast(Table, WebhookDelivery.__table__)
_attempts = cast(Table, WebhookAttempt.__table__)


@dataclass(frozen=True, slots=True)
class DeliveryFilter:
    account_sid: str
    resource_sid: str | None = None
    purpose: str | None = None
    status: str | None = None


class WebhookRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, delivery: WebhookDelivery) -> None:
        self.session.add(delivery)
        await self.session.flush()

    def add_pending(self, values: dict[str, Any]) -> None:
        """A new delivery (``WebhookDelivery`` column values), inserted with the transaction's
        other deferred rows at its next flush or commit (:mod:`message_exchange.db.deferred`)."""
        defer_insert(self.session, _deliveries, values)

    def add_attempt(self, values: dict[str, Any]) -> None:
        """An attempt (``WebhookAttempt`` column values), inserted like :meth:`add_pending`'s rows."""
        defer_insert(self.session, _attempts, values)

    async def get(self, sid: str, *, for_update: bool = False) -> WebhookDelivery | None:
        query = select(WebhookDelivery).where(WebhookDelivery.sid == sid)
        if for_update:
            query = query.with_for_update()
        return (await self.session.execute(query)).scalar_one_or_none()

    async def get_many(self, sids: Collection[str], *, for_update: bool = False) -> dict[str, WebhookDelivery]:
        """The deliveries of ``sids`` that exist, by sid (one query)."""
        if not sids:
            return {}
        query = select(WebhookDelivery).where(WebhookDelivery.sid.in_(sorted(sids))).order_by(WebhookDelivery.sid)
        if for_update:
            query = query.with_for_update()
        return {delivery.sid: delivery for delivery in (await self.session.execute(query)).scalars()}

    async def pending_of(self, sids: Collection[str]) -> list[str]:
        """Which of ``sids`` are still pending, in sid order."""
        if not sids:
            return []
        d = _deliveries.c
        query = select(d.sid).where(d.sid.in_(sorted(sids)), d.status == DeliveryStatus.PENDING.value).order_by(d.sid)
        return list((await self.session.execute(query)).scalars())

    async def set_job_ids(self, job_ids: Mapping[str, str]) -> None:
        """Point each delivery (sid → job id) at the job that sends it now."""
        if job_ids:
            statement = (
                update(_deliveries).where(_deliveries.c.sid == bindparam("b_sid")).values(job_id=bindparam("b_job_id"))
            )
            await self.session.execute(statement, [{"b_sid": s, "b_job_id": j} for s, j in job_ids.items()])

    async def pending_lines_of(self, sids: Collection[str]) -> list[PendingDelivery]:
        """Every pending delivery of the resources that ``sids`` are for, oldest first (the
        order they must arrive in); ``sids`` themselves among them while pending."""
        if not sids:
            return []
        d = _deliveries.c
        resources = select(d.resource_sid).where(d.sid.in_(sorted(sids))).scalar_subquery()
        # On PostgreSQL the resources as an array, computed once: as an IN (subquery) a plan made
        # on stale statistics scanned every pending delivery and probed the resource index for each.
        of_resources = (
            d.resource_sid == any_(func.array(resources))
            if on_postgres(self.session)
            else d.resource_sid.in_(resources)
        )
        query = (
            select(d.sid, d.account_sid, d.resource_sid, d.purpose, d.url, d.method, d.params, d.body_format, d.body)
            .where(of_resources, d.status == DeliveryStatus.PENDING.value)
            .order_by(d.created_at, d.sid)
        )
        return [PendingDelivery(*row) for row in (await self.session.execute(query)).all()]

    async def lock_states(self, sids: Collection[str]) -> dict[str, tuple[str, int]]:
        """sid → (status, attempts) of these deliveries, locked (in sid order)."""
        if not sids:
            return {}
        d = _deliveries.c
        query = select(d.sid, d.status, d.attempts).where(d.sid.in_(sorted(sids))).order_by(d.sid).with_for_update()
        return {row.sid: (row.status, row.attempts) for row in (await self.session.execute(query)).all()}

    async def set_states(self, states: Sequence[dict[str, Any]]) -> None:
        """Write what attempts changed: ``sid`` with ``status``, ``attempts``, ``last_status_code``,
        ``last_error``, ``updated_at``, ``finished_at`` each."""
        if states:
            d = _deliveries.c
            statement = (
                update(_deliveries)
                .where(d.sid == bindparam("b_sid"))
                .values(
                    status=bindparam("b_status"),
                    attempts=bindparam("b_attempts"),
                    last_status_code=bindparam("b_code"),
                    last_error=bindparam("b_error"),
                    updated_at=bindparam("b_at", type_=d.updated_at.type),
                    finished_at=bindparam("b_finished", type_=d.finished_at.type),
                )
            )
            await self.session.execute(statement, [{f"b_{k}": v for k, v in state.items()} for state in states])

    async def earliest_pending_before(self, delivery: WebhookDelivery) -> WebhookDelivery | None:
        """The oldest still-pending delivery of the same (resource, url) created before ``delivery``."""
        d = WebhookDelivery
        query = (
            select(d)
            .where(
                d.resource_sid == delivery.resource_sid,
                d.url == delivery.url,
                d.status == DeliveryStatus.PENDING.value,
                d.sid != delivery.sid,
                or_(
                    d.created_at < delivery.created_at,
                    and_(d.created_at == delivery.created_at, d.sid < delivery.sid),
                ),
            )
            .order_by(d.created_at, d.sid)
            .limit(1)
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def attempts(self, delivery_sid: str) -> list[WebhookAttempt]:
        query = (
            select(WebhookAttempt).where(WebhookAttempt.delivery_sid == delivery_sid).order_by(WebhookAttempt.attempt)
        )
        return list((await self.session.execute(query)).scalars())

    def _filtered(self, flt: DeliveryFilter) -> list[ColumnElement[bool]]:
        conditions = [WebhookDelivery.account_sid == flt.account_sid]
        if flt.resource_sid is not None:
            conditions.append(WebhookDelivery.resource_sid == flt.resource_sid)
        if flt.purpose is not None:
            conditions.append(WebhookDelivery.purpose == flt.purpose)
        if flt.status is not None:
            conditions.append(WebhookDelivery.status == flt.status)
        return conditions

    async def count(self, flt: DeliveryFilter) -> int:
        query = select(func.count()).select_from(WebhookDelivery).where(*self._filtered(flt))
        return int((await self.session.execute(query)).scalar_one())

    async def page(self, flt: DeliveryFilter, *, offset: int, limit: int) -> Sequence[WebhookDelivery]:
        """Newest first (the order a user debugging callbacks wants)."""
        query = (
            select(WebhookDelivery)
            .where(*self._filtered(flt))
            .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.sid.desc())
            .offset(offset)
            .limit(limit)
        )
        return list((await self.session.execute(query)).scalars())
