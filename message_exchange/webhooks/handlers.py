"""The ``webhook.deliver`` job: send one delivery, record the attempt, decide what next.

Outcomes of one run:

- 2xx → ``delivered`` (any response hook of the delivery's purpose runs, see
  :func:`on_response`);
- no response (connection refused, reset, timeout), 5xx or 429 → retried after
  ``backoff_delay(http_attempts)`` (exponential, full jitter, MX_JOB_BACKOFF_* settings)
  until MX_WEBHOOK_MAX_ATTEMPTS HTTP attempts, then ``failed``;
- any other status (3xx, 4xx) → ``failed`` at once; so is a target the SSRF guard refuses.
  Whenever a delivery ends ``failed``, any failure hook of its purpose runs (see
  :func:`on_failure`).

Attempt rows and the delivery's status are written in their own short transaction right
after the request, *not* in the job's transaction: the worker rolls a handler's writes
back when it raises to ask for a retry, and the attempt must be recorded either way. (On
SQLite the job's session is not touched before that, so there is one writer at a time.)

Order. Deliveries of one ``(resource_sid, url)`` arrive in creation order: a delivery whose
predecessor is still ``pending`` does not send; it asks the queue to run it again
(:class:`RetryLater`) shortly after the predecessor's next scheduled run, so it waits about
as many times as the predecessor is tried rather than polling. Such a wait is a job attempt
but not an HTTP attempt: the delivery's budget counts only requests actually sent, and its
backoff is computed from them, so waiting neither shortens a delivery's retries nor
lengthens its backoff. (The job gets a generous ceiling, ``JOB_MAX_ATTEMPTS``, for that.)
A predecessor whose job ended without settling the delivery (it died on an unexpected
error) no longer holds the line.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from message_exchange.accounts import service as accounts
from message_exchange.config import Settings
from message_exchange.core.crypto import SecretBox
from message_exchange.core.logging import get_logger
from message_exchange.db.base import utcnow
from message_exchange.jobs import service as jobs
from message_exchange.jobs.models import JobStatus
from message_exchange.jobs.registry import JobContext, PermanentJobError, RetryLater, job_handler
from message_exchange.webhooks.client import WebhookResult, send_webhook
from message_exchange.webhooks.guard import WebhookRefused
from message_exchange.webhooks.models import BodyFormat, DeliveryStatus, Outgoing, WebhookDelivery
from message_exchange.webhooks.repository import WebhookRepository
from message_exchange.webhooks.service import (
    DELIVER_JOB,
    DELIVERY_SID,
    JOB_MAX_ATTEMPTS,
    delivery_sids,
)

log = get_logger("mx.webhooks")

# How long a delivery waits when its predecessor is being sent right now, and at most.
ORDER_WAIT_RUNNING_SECONDS = 0.25
ORDER_WAIT_MIN_SECONDS = 0.05
ORDER_WAIT_MAX_SECONDS = 60.0
MAX_STORED_BODY_CHARS = 4096

ResponseHook = Callable[[AsyncSession, WebhookDelivery, WebhookResult], Awaitable[None]]
_RESPONSE_HOOKS: dict[str, ResponseHook] = {}


def on_response(purpose: str) -> Callable[[ResponseHook], ResponseHook]:
    """Register what to do with a 2xx response of deliveries of ``purpose`` (e.g. run an RCML reply).

    The hook runs in the job's transaction (``session``), so what it writes or enqueues
    commits exactly once, together with the job's completion. It must not commit.
    """

    def register(hook: ResponseHook) -> ResponseHook:
        _RESPONSE_HOOKS[purpose] = hook
        return hook

    return register


FailureHook = Callable[[AsyncSession, WebhookDelivery], Awaitable[None]]
_FAILURE_HOOKS: dict[str, FailureHook] = {}


def on_failure(purpose: str) -> Callable[[FailureHook], FailureHook]:
    """Register what to do when a delivery of ``purpose`` has finally failed (e.g. try a fallback URL).

    The hook runs in the transaction that marks the delivery ``failed``, so what it writes
    or enqueues commits exactly once, together with that status. It must not commit.
    """

    def register(hook: FailureHook) -> FailureHook:
        _FAILURE_HOOKS[purpose] = hook
        return hook

    return register


async def run_failure_hook(session: AsyncSession, delivery: WebhookDelivery) -> None:
    hook = _FAILURE_HOOKS.get(delivery.purpose)
    if hook is not None:
        await hook(session, delivery)


def has_failure_hook(purpose: str) -> bool:
    return purpose in _FAILURE_HOOKS


def response_hook(purpose: str) -> ResponseHook | None:
    return _RESPONSE_HOOKS.get(purpose)


def json_body(delivery: Outgoing) -> bytes | None:
    if delivery.body_format == BodyFormat.JSON.value:
        return (delivery.body or "").encode("utf-8")
    return None


def _own_session(ctx: JobContext) -> AsyncSession:
    return AsyncSession(ctx.session.bind, expire_on_commit=False, autoflush=False)


async def _order_wait(repo: WebhookRepository, delivery: WebhookDelivery) -> float | None:
    """Seconds to wait for an earlier pending delivery of the same resource and URL, or None."""
    blocker = await repo.earliest_pending_before(delivery)
    if blocker is None or blocker.job_id is None:
        return None
    job = await jobs.get_job(repo.session, blocker.job_id)
    if job is None or job.status in (JobStatus.SUCCEEDED.value, JobStatus.DEAD.value):
        return None
    if job.status == JobStatus.RUNNING.value:
        return ORDER_WAIT_RUNNING_SECONDS
    until = (job.run_at - utcnow()).total_seconds() + ORDER_WAIT_MIN_SECONDS
    return min(max(until, ORDER_WAIT_MIN_SECONDS), ORDER_WAIT_MAX_SECONDS)


@dataclass(frozen=True, slots=True)
class Sent:
    """One request of a delivery: what came back and what it decides."""

    started: datetime
    result: WebhookResult | None  # None: the SSRF guard refused the target (``error`` says why)
    error: str | None
    final: DeliveryStatus | None  # delivered (2xx), failed (refused, 3xx, 4xx) or None: retry


async def send_delivery(delivery: Outgoing, auth_token: str, settings: Settings) -> Sent:
    """Send ``delivery`` once, signed with ``auth_token``; never raises."""
    started = utcnow()
    try:
        result = await send_webhook(
            delivery.url,
            delivery.method,
            delivery.params,
            auth_token=auth_token,
            settings=settings,
            json_body=json_body(delivery),
        )
    except WebhookRefused as exc:
        return Sent(started, None, exc.message, DeliveryStatus.FAILED)
    except Exception as exc:  # a bug or an odd transport failure: an attempt like any other
        log.exception("webhook request raised", delivery_sid=delivery.sid)
        result = WebhookResult(
            url=delivery.url, status_code=None, body="", content_type=None, duration_ms=0, error=repr(exc)[:2000]
        )
    error = result.error or (None if result.ok else f"HTTP {result.status_code}")
    if result.ok:
        return Sent(started, result, error, DeliveryStatus.DELIVERED)
    return Sent(started, result, error, None if result.retryable else DeliveryStatus.FAILED)


async def split_job(session: AsyncSession, due: Mapping[str, datetime | None]) -> int:
    """Give each still-pending delivery of ``due`` a job of its own, due at the time given
    (None: now), in the caller's transaction; how many. For the deliveries of a shared job
    that its run did not settle: from then on each is retried (or waits for its line) on its own."""
    repo = WebhookRepository(session)
    pending = await repo.pending_of(due)
    job_ids = {
        sid: jobs.add_job(session, DELIVER_JOB, {DELIVERY_SID: sid}, max_attempts=JOB_MAX_ATTEMPTS, run_at=due[sid])
        for sid in pending
    }
    await repo.set_job_ids(job_ids)
    return len(job_ids)


@job_handler(DELIVER_JOB)
async def deliver(ctx: JobContext, payload: dict[str, Any]) -> None:
    sids = delivery_sids(payload)
    if len(sids) > 1:
        # A shared job run on its own (its batch failed): one job per delivery, run in turn.
        await split_job(ctx.session, dict.fromkeys(sids))
        return
    sid = sids[0] if sids else ""
    async with _own_session(ctx) as session, session.begin():
        repo = WebhookRepository(session)
        delivery = await repo.get(sid)
        if delivery is None:
            raise PermanentJobError(f"webhook delivery {sid} not found")
        if delivery.status != DeliveryStatus.PENDING.value:
            return  # settled by an earlier run whose job completion was lost
        wait = await _order_wait(repo, delivery)
        account = await accounts.get_by_sid(session, delivery.account_sid)
        token = accounts.auth_token_of(SecretBox(ctx.settings.fernet_key), account)
    if wait is not None:
        if ctx.is_last_attempt:
            await _settle(ctx, sid, None, "gave up waiting for an earlier delivery of the same resource and URL")
            raise PermanentJobError("gave up waiting for an earlier delivery")
        raise RetryLater(wait, "an earlier delivery of the same resource and URL is still pending")

    sent = await send_delivery(delivery, token, ctx.settings)
    result, error = sent.result, sent.error
    if result is None:
        await _record(ctx, sid, sent.started, None, error, final=DeliveryStatus.FAILED)
        raise PermanentJobError(f"webhook refused: {error}")
    attempts = await _record(
        ctx, sid, sent.started, result, error, final=sent.final, max_attempts=ctx.settings.webhook_max_attempts
    )
    log.info(
        "webhook attempt",
        delivery_sid=sid,
        attempt=attempts.number,
        status_code=result.status_code,
        error=result.error,
        duration_ms=result.duration_ms,
        outcome=attempts.status,
    )
    if attempts.status == DeliveryStatus.DELIVERED.value:
        hook = response_hook(delivery.purpose)
        if hook is not None:
            await hook(ctx.session, delivery, result)
        return
    if attempts.status == DeliveryStatus.FAILED.value:
        raise PermanentJobError(f"webhook delivery failed after {attempts.number} attempt(s): {error}")
    raise RetryLater(
        jobs.backoff_delay(
            attempts.number, ctx.settings.job_backoff_base_seconds, ctx.settings.job_backoff_max_seconds
        ),
        f"attempt {attempts.number} failed: {error}",
    )


class _Recorded:
    __slots__ = ("number", "status")

    def __init__(self, number: int, status: str) -> None:
        self.number = number
        self.status = status


async def _record(
    ctx: JobContext,
    sid: str,
    started: Any,
    result: WebhookResult | None,
    error: str | None,
    *,
    final: DeliveryStatus | None,
    max_attempts: int | None = None,
) -> _Recorded:
    """Write the attempt and the delivery's new state in their own transaction."""
    async with _own_session(ctx) as session, session.begin():
        delivery = await WebhookRepository(session).get(sid, for_update=True)
        if delivery is None:
            raise PermanentJobError(f"webhook delivery {sid} not found")
        number = await apply_attempt(
            session, delivery, started, result, error, final=final, last=ctx.is_last_attempt, max_attempts=max_attempts
        )
        await session.flush()
        return _Recorded(number, delivery.status)


def attempt_row(
    sid: str, number: int, started: datetime, result: WebhookResult | None, error: str | None
) -> dict[str, Any]:
    """The ``webhook_attempts`` row of attempt ``number`` of delivery ``sid``."""
    return {
        "delivery_sid": sid,
        "attempt": number,
        "started_at": started,
        "duration_ms": result.duration_ms if result else 0,
        "status_code": result.status_code if result else None,
        "error": error,
        "response_body": result.body[:MAX_STORED_BODY_CHARS] if result and result.body else None,
    }


def decide(number: int, final: DeliveryStatus | None, *, last: bool, max_attempts: int | None) -> DeliveryStatus | None:
    """Where attempt ``number`` leaves a delivery: what its answer decided (``final``), except
    that a retry on the job's ``last`` attempt or the ``max_attempts``-th request fails it."""
    if final is None and (last or (max_attempts is not None and number >= max_attempts)):
        return DeliveryStatus.FAILED
    return final


async def apply_attempt(
    session: AsyncSession,
    delivery: WebhookDelivery,
    started: Any,
    result: WebhookResult | None,
    error: str | None,
    *,
    final: DeliveryStatus | None,
    last: bool,
    max_attempts: int | None,
) -> int:
    """Add attempt number N to ``delivery`` (locked) and move its state; N.

    ``final`` is what the answer decided (delivered, failed, or None: retry); a retry on the
    job's last attempt or the delivery's ``max_attempts``-th request fails it instead. A
    delivery that ends failed runs its purpose's failure hook in this transaction.
    """
    number = delivery.attempts + 1
    WebhookRepository(session).add_attempt(attempt_row(delivery.sid, number, started, result, error))
    final = decide(number, final, last=last, max_attempts=max_attempts)
    if delivery.status == DeliveryStatus.PENDING.value:
        now = utcnow()
        delivery.attempts = number
        delivery.last_status_code = result.status_code if result else None
        delivery.last_error = error
        delivery.updated_at = now
        if final is not None:
            delivery.status = final.value
            delivery.finished_at = now
            if final is DeliveryStatus.FAILED:
                await run_failure_hook(session, delivery)
    return number


async def _settle(ctx: JobContext, sid: str, status_code: int | None, error: str) -> None:
    """Mark a delivery failed without an attempt (it never got to send)."""
    async with _own_session(ctx) as session, session.begin():
        delivery = await WebhookRepository(session).get(sid, for_update=True)
        if delivery is not None and delivery.status == DeliveryStatus.PENDING.value:
            now = utcnow()
            delivery.status = DeliveryStatus.FAILED.value
            delivery.last_status_code = status_code
            delivery.last_error = error
            delivery.updated_at = delivery.finished_at = now
            await run_failure_hook(session, delivery)
            await session.flush()
