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
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from message_exchange.accounts import service as accounts
from message_exchange.config import Settings
from message_exchange.core.crypto import SecretBox
from message_exchange.core.logging import get_logger
from message_exchange.jobs import service as jobs
from message_exchange.jobs.registry import BatchContext, BatchItem, batch_handler
from message_exchange.webhooks.handlers import Sent, apply_attempt, response_hook, send_delivery
from message_exchange.webhooks.models import DeliveryStatus, WebhookDelivery
from message_exchange.webhooks.repository import WebhookRepository
from message_exchange.webhooks.service import DELIVER_JOB

log = get_logger("mx.webhooks")

MAX_CONCURRENT_LINES = 32


@dataclass(slots=True)
class _Sent:
    delivery: WebhookDelivery
    sent: Sent
    number: int = 0
    status: str = DeliveryStatus.PENDING.value


async def _send_line(deliveries: Sequence[WebhookDelivery], tokens: dict[str, str], settings: Settings) -> list[_Sent]:
    """Send a line's deliveries in order; stop after the first that is not a 2xx."""
    sent: list[_Sent] = []
    for delivery in deliveries:
        one = await send_delivery(delivery, tokens[delivery.account_sid], settings)
        sent.append(_Sent(delivery, one))
        if one.final is not DeliveryStatus.DELIVERED:
            break
    return sent


async def _record_all(engine: AsyncEngine, sent: list[_Sent], items: dict[str, BatchItem], settings: Settings) -> None:
    """Every attempt and new delivery status, in one transaction of its own."""
    async with AsyncSession(engine, expire_on_commit=False, autoflush=False) as session, session.begin():
        repo = WebhookRepository(session)
        current = await repo.get_many([s.delivery.sid for s in sent], for_update=True)
        for s in sent:
            delivery = current[s.delivery.sid]
            item = items[delivery.sid]
            s.number = await apply_attempt(
                session,
                delivery,
                s.sent.started,
                s.sent.result,
                s.sent.error,
                final=s.sent.final,
                last=item.attempt >= item.max_attempts,
                max_attempts=settings.webhook_max_attempts,
            )
            s.status = delivery.status
        await session.flush()


@batch_handler(DELIVER_JOB)
async def deliver_many(ctx: BatchContext) -> list[str]:
    items: dict[str, BatchItem] = {}
    for item in ctx.items:
        sid = str(item.payload.get("delivery_sid", ""))
        if sid and sid not in items:
            items[sid] = item  # a second job of one delivery (or none) goes one by one
    engine = ctx.session.bind
    assert isinstance(engine, AsyncEngine)
    async with AsyncSession(engine, expire_on_commit=False, autoflush=False) as session, session.begin():
        repo = WebhookRepository(session)
        deliveries = await repo.get_many(items)
        pending = [d for d in deliveries.values() if d.status == DeliveryStatus.PENDING.value]
        waiting = await repo.pending_in_order({d.resource_sid for d in pending})
        box = SecretBox(ctx.settings.fernet_key)
        tokens = {
            sid: accounts.auth_token_of(box, await accounts.get_by_sid(session, sid))
            for sid in {d.account_sid for d in pending}
        }
    done = [items[sid].job_id for sid, d in deliveries.items() if d.status != DeliveryStatus.PENDING.value]

    lines: dict[tuple[str, str], list[WebhookDelivery]] = {}
    for delivery in waiting:
        lines.setdefault((delivery.resource_sid, delivery.url), []).append(delivery)
    heads: list[list[WebhookDelivery]] = []
    for line in lines.values():
        ours = []
        for delivery in line:
            if delivery.sid not in items:
                break  # an earlier delivery of the line is not in this batch: the rest wait for it
            ours.append(delivery)
        if ours:
            heads.append(ours)
    # A bounded number of lines at once: a batch must not open hundreds of connections to
    # one customer's endpoint (its lines mostly share a host).
    slots = asyncio.Semaphore(MAX_CONCURRENT_LINES)

    async def send(line: list[WebhookDelivery]) -> list[_Sent]:
        async with slots:
            return await _send_line(line, tokens, ctx.settings)

    sent = [s for line_sent in await asyncio.gather(*(send(h) for h in heads)) for s in line_sent]
    if not sent:
        return done
    await _record_all(engine, sent, items, ctx.settings)

    settings = ctx.settings
    for s in sent:
        job_id = items[s.delivery.sid].job_id
        if s.status == DeliveryStatus.DELIVERED.value:
            hook = response_hook(s.delivery.purpose)
            if hook is not None and s.sent.result is not None:
                attached = await WebhookRepository(ctx.session).get(s.delivery.sid)
                if attached is not None:
                    await hook(ctx.session, attached, s.sent.result)
            done.append(job_id)
        elif s.status == DeliveryStatus.FAILED.value:
            log.info("webhook delivery failed", delivery_sid=s.delivery.sid, attempt=s.number, error=s.sent.error)
            ctx.fail_permanently(job_id, f"webhook delivery failed after {s.number} attempt(s): {s.sent.error}")
        else:
            delay = jobs.backoff_delay(s.number, settings.job_backoff_base_seconds, settings.job_backoff_max_seconds)
            ctx.retry_later(job_id, delay, f"attempt {s.number} failed: {s.sent.error}")
    return done
