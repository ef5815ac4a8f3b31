"""``webhook.deliver`` jobs many at a time (the worker's batch path for this kind).

The outcome of each delivery is what :func:`message_exchange.webhooks.handlers.deliver`
would decide, at a fraction of the cost: one transaction reads the deliveries, the order
of their lines and their accounts' tokens; the requests go out concurrently (no
transaction open meanwhile); one transaction records every attempt and new status (and
runs failure hooks), as the one-by-one path does in its own session, so an attempt is
recorded whatever becomes of the batch; the batch's own transaction then runs the response
hooks and completes the jobs.

Order is kept per line — the pending deliveries of one ``(resource_sid, url)``, oldest
first: a line is sent from its head, one request after another, and only while its
deliveries are in this batch and answered 2xx. A delivery behind one that is not in the
batch, or behind one that just failed, is left to the one-by-one path, which waits for its
predecessor as usual.

Shared jobs (the deliveries one transaction stored, see :mod:`.service`) are finished
whole: what a batch leaves of one — a retry, a delivery waiting for its line — gets a job
of its own (:func:`~message_exchange.webhooks.handlers.split_job`), due when its backoff
ends or at once. Reading and recording go through plain column values (a batch handles
hundreds of deliveries; ORM objects for each cost more than the requests): only a failure
or response hook gets the delivery as a model object.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from message_exchange.accounts import service as accounts
from message_exchange.config import Settings
from message_exchange.core.crypto import SecretBox
from message_exchange.core.logging import get_logger
from message_exchange.db.base import utcnow
from message_exchange.jobs import service as jobs
from message_exchange.jobs.registry import BatchContext, BatchItem, batch_handler
from message_exchange.webhooks.handlers import (
    Sent,
    attempt_row,
    decide,
    has_failure_hook,
    response_hook,
    run_failure_hook,
    send_delivery,
    split_job,
)
from message_exchange.webhooks.models import DeliveryStatus, Outgoing, PendingDelivery
from message_exchange.webhooks.repository import WebhookRepository
from message_exchange.webhooks.service import DELIVER_JOB, delivery_sids

log = get_logger("mx.webhooks")

MAX_CONCURRENT_LINES = 32


@dataclass(slots=True)
class _Sent:
    delivery: Outgoing
    sent: Sent
    number: int = 0
    status: str = DeliveryStatus.PENDING.value


async def _send_line(deliveries: Sequence[Outgoing], tokens: dict[str, str], settings: Settings) -> list[_Sent]:
    """Send a line's deliveries in order; stop after the first that is not a 2xx."""
    sent: list[_Sent] = []
    for delivery in deliveries:
        one = await send_delivery(delivery, tokens[delivery.account_sid], settings)
        sent.append(_Sent(delivery, one))
        if one.final is not DeliveryStatus.DELIVERED:
            break
    return sent


async def _record_all(engine: AsyncEngine, sent: list[_Sent], items: dict[str, BatchItem], settings: Settings) -> None:
    """Every attempt and new delivery status, in one transaction of its own (a few statements)."""
    async with AsyncSession(engine, expire_on_commit=False, autoflush=False) as session, session.begin():
        repo = WebhookRepository(session)
        current = await repo.lock_states([s.delivery.sid for s in sent])
        now = utcnow()
        states: list[dict[str, Any]] = []
        failed: list[str] = []
        for s in sent:
            sid, item, result = s.delivery.sid, items[s.delivery.sid], s.sent.result
            status, attempts = current[sid]
            s.number = attempts + 1
            repo.add_attempt(attempt_row(sid, s.number, s.sent.started, result, s.sent.error))
            s.status = status
            if status != DeliveryStatus.PENDING.value:
                continue  # settled meanwhile (a run whose lease expired): the attempt is history only
            last = item.attempt >= item.max_attempts
            final = decide(s.number, s.sent.final, last=last, max_attempts=settings.webhook_max_attempts)
            s.status = final.value if final is not None else status
            states.append(
                {
                    "sid": sid,
                    "status": s.status,
                    "attempts": s.number,
                    "code": result.status_code if result else None,
                    "error": s.sent.error,
                    "at": now,
                    "finished": now if final is not None else None,
                }
            )
            if final is DeliveryStatus.FAILED and has_failure_hook(s.delivery.purpose):
                failed.append(sid)
        await repo.set_states(states)
        for delivery in (await repo.get_many(failed)).values():  # as stored now: failed
            await run_failure_hook(session, delivery)


@dataclass(slots=True)
class _Read:
    """What one transaction reads for a batch: the pending deliveries of its lines, oldest
    first, and the signing token of each account among them."""

    waiting: list[PendingDelivery]
    tokens: dict[str, str]


async def _read(engine: AsyncEngine, sids: Collection[str], settings: Settings) -> _Read:
    async with AsyncSession(engine, expire_on_commit=False, autoflush=False) as session, session.begin():
        waiting = await WebhookRepository(session).pending_lines_of(sids)
        box = SecretBox(settings.fernet_key)
        tokens = {
            sid: accounts.auth_token_of(box, await accounts.get_by_sid(session, sid))
            for sid in {d.account_sid for d in waiting if d.sid in sids}
        }
    return _Read(waiting, tokens)


def _heads(waiting: list[PendingDelivery], ours: Collection[str]) -> list[list[PendingDelivery]]:
    """Each line's deliveries this batch may send: from its head, while they are ``ours``."""
    lines: dict[tuple[str, str], list[PendingDelivery]] = {}
    for delivery in waiting:
        lines.setdefault((delivery.resource_sid, delivery.url), []).append(delivery)
    heads: list[list[PendingDelivery]] = []
    for line in lines.values():
        head = []
        for delivery in line:
            if delivery.sid not in ours:
                break  # an earlier delivery of the line is not in this batch: the rest wait for it
            head.append(delivery)
        if head:
            heads.append(head)
    return heads


async def _send_lines(heads: list[list[PendingDelivery]], tokens: dict[str, str], settings: Settings) -> list[_Sent]:
    # A bounded number of lines at once: a batch must not open hundreds of connections to
    # one customer's endpoint (its lines mostly share a host).
    slots = asyncio.Semaphore(MAX_CONCURRENT_LINES)

    async def send(line: list[PendingDelivery]) -> list[_Sent]:
        async with slots:
            return await _send_line(line, tokens, settings)

    return [s for line_sent in await asyncio.gather(*(send(h) for h in heads)) for s in line_sent]


async def _after_response(ctx: BatchContext, sent: Collection[_Sent]) -> None:
    """Response hooks of the delivered ones, in the batch's transaction."""
    for s in sent:
        if s.status == DeliveryStatus.DELIVERED.value:
            hook = response_hook(s.delivery.purpose)
            if hook is not None and s.sent.result is not None:
                attached = await WebhookRepository(ctx.session).get(s.delivery.sid)
                if attached is not None:
                    await hook(ctx.session, attached, s.sent.result)
        elif s.status == DeliveryStatus.FAILED.value:
            log.info("webhook delivery failed", delivery_sid=s.delivery.sid, attempt=s.number, error=s.sent.error)


def _retry_delay(one: _Sent, settings: Settings) -> float:
    return jobs.backoff_delay(one.number, settings.job_backoff_base_seconds, settings.job_backoff_max_seconds)


def _settle_single(ctx: BatchContext, job_id: str, one: _Sent | None) -> bool:
    """How the job of one delivery ends (retry / dead marked on ``ctx``); True: it is done.
    Not sent (it waits for an earlier delivery of its line, or was settled already): False,
    it runs one by one."""
    if one is None:
        return False
    if one.status == DeliveryStatus.FAILED.value:
        ctx.fail_permanently(job_id, f"webhook delivery failed after {one.number} attempt(s): {one.sent.error}")
    elif one.status != DeliveryStatus.DELIVERED.value:
        ctx.retry_later(job_id, _retry_delay(one, ctx.settings), f"attempt {one.number} failed: {one.sent.error}")
    return one.status == DeliveryStatus.DELIVERED.value


@batch_handler(DELIVER_JOB)
async def deliver_many(ctx: BatchContext) -> list[str]:
    owners: dict[str, BatchItem] = {}  # delivery sid → the job that sends it
    job_sids: dict[str, list[str]] = {}
    for item in ctx.items:
        sids = delivery_sids(item.payload)
        if sids and not any(sid in owners for sid in sids):  # a delivery in two jobs (or none): one by one
            owners.update(dict.fromkeys(sids, item))
            job_sids[item.job_id] = sids
    engine = ctx.session.bind
    assert isinstance(engine, AsyncEngine)
    read = await _read(engine, owners, ctx.settings)
    sent = {s.delivery.sid: s for s in await _send_lines(_heads(read.waiting, owners), read.tokens, ctx.settings)}
    if sent:
        await _record_all(engine, list(sent.values()), owners, ctx.settings)
    await _after_response(ctx, sent.values())

    now = utcnow()
    done: list[str] = []
    unsettled: dict[str, datetime | None] = {}  # deliveries of shared jobs that get a job of their own
    for job_id, sids in job_sids.items():
        if len(sids) == 1:
            if _settle_single(ctx, job_id, sent.get(sids[0])):
                done.append(job_id)
            continue
        for sid in sids:
            one = sent.get(sid)
            if one is None:
                unsettled[sid] = None  # not sent: it waits for its line (if still pending)
            elif one.status == DeliveryStatus.PENDING.value:
                unsettled[sid] = now + timedelta(seconds=_retry_delay(one, ctx.settings))
        done.append(job_id)
    if unsettled:
        await split_job(ctx.session, unsettled)
    return done
