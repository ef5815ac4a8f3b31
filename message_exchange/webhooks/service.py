"""Durable webhook deliveries: enqueue in the caller's transaction, read them back. Never commits.

::

    sid = await enqueue_delivery(
        session, account_sid=msg.account_sid, resource_sid=msg.sid, purpose="status_callback",
        url=msg.status_callback, method="POST", params={"MessageSid": msg.sid, ...},
    )

The delivery row and its ``webhook.deliver`` job are inserted in the caller's transaction,
so a status change and its callback commit together or not at all. The job
(:mod:`message_exchange.webhooks.handlers`) signs with the account's auth token *at send
time* (a rotated token signs the retries), records every attempt and retries with
exponential backoff and full jitter.

Jobs. The deliveries one transaction stores share one job (up to ``DELIVERIES_PER_JOB``):
a dispatch batch's ``sending`` and ``sent`` callbacks of hundreds of messages, or a batch
of receipts' ``delivered`` ones, cost one job, not a job each (each job is a row written
three times and an attempt row written twice). A delivery that is not settled by its
job's first run (a retry, or waiting behind an earlier delivery of its line) gets a job of
its own then (:func:`message_exchange.webhooks.handlers.split_job`), which retries it as
before.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from message_exchange.accounts import service as accounts
from message_exchange.accounts.models import Account
from message_exchange.core.errors import NotFound
from message_exchange.core.paging import PageRequest, ensure_page_exists
from message_exchange.core.sids import new_sid
from message_exchange.db.base import utcnow
from message_exchange.jobs import service as jobs
from message_exchange.webhooks.models import SID_PREFIX, BodyFormat, DeliveryStatus, WebhookAttempt, WebhookDelivery
from message_exchange.webhooks.repository import DeliveryFilter, WebhookRepository

DELIVER_JOB = "webhook.deliver"
# The job payload's list of deliveries; a job of an earlier release names one, as "delivery_sid".
DELIVERY_SIDS = "delivery_sids"
DELIVERY_SID = "delivery_sid"
# At most this many deliveries share a job: a worker's batch of jobs stays a sensible size.
DELIVERIES_PER_JOB = 100
# The job's own attempt ceiling. HTTP attempts are counted and capped by the handler
# (MX_WEBHOOK_MAX_ATTEMPTS); a job run that only waited for an earlier delivery of the same
# resource and URL does not count against that budget, but is a job attempt, hence the room.
JOB_MAX_ATTEMPTS = 1000
METHODS = ("GET", "POST")


class _CreationClock:
    """``utcnow()``, but strictly increasing within this process.

    Deliveries of one resource and URL go out in ``created_at`` order; two created in the
    same microsecond (or after the wall clock stepped back) still get their creation order.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: datetime | None = None

    def __call__(self) -> datetime:
        with self._lock:
            now = utcnow()
            if self._last is not None and now <= self._last:
                now = self._last + timedelta(microseconds=1)
            self._last = now
            return now


_creation_time = _CreationClock()


def delivery_sids(payload: dict[str, Any]) -> list[str]:
    """The deliveries a ``webhook.deliver`` job sends (either payload form)."""
    sids = payload.get(DELIVERY_SIDS)
    if isinstance(sids, list):
        return [str(sid) for sid in sids]
    single = payload.get(DELIVERY_SID)
    return [str(single)] if single else []


def normalize_params(params: Mapping[str, str | Sequence[str]]) -> dict[str, str | list[str]]:
    """Params as stored (JSON): a string, or a list of strings for a repeated name."""
    return {str(k): (v if isinstance(v, str) else [str(item) for item in v]) for k, v in params.items()}


async def enqueue_delivery(
    session: AsyncSession,
    *,
    account_sid: str,
    resource_sid: str,
    purpose: str,
    url: str,
    method: str,
    params: Mapping[str, str | Sequence[str]],
) -> str:
    """Store a pending delivery and its job in the caller's transaction; the delivery sid.

    ``url`` is not checked here: a refused target is recorded as a failed delivery with the
    reason when the job runs (APIs that take a URL should validate it with
    :func:`message_exchange.webhooks.guard.check_url_syntax` when they accept it).
    """
    method = method.upper()
    if method not in METHODS:
        raise ValueError(f"webhook method must be GET or POST, got {method!r}")
    return _store(
        session,
        account_sid=account_sid,
        resource_sid=resource_sid,
        purpose=purpose,
        url=url,
        method=method,
        params=normalize_params(params),
        body_format=BodyFormat.FORM,
        body=None,
    )


def _store(
    session: AsyncSession,
    *,
    account_sid: str,
    resource_sid: str,
    purpose: str,
    url: str,
    method: str,
    params: dict[str, str | list[str]],
    body_format: BodyFormat,
    body: str | None,
) -> str:
    now = _creation_time()
    sid = new_sid(SID_PREFIX)
    # Both rows deferred: a batch's many callbacks are inserted by one statement per table,
    # and share one job (see "Jobs" above).
    job = jobs.pending_job(session, DELIVER_JOB)
    if job is not None and len(job["payload"][DELIVERY_SIDS]) < DELIVERIES_PER_JOB:
        job["payload"][DELIVERY_SIDS].append(sid)
        job["items"] += 1
        job_id = str(job["id"])
    else:
        payload = {DELIVERY_SIDS: [sid]}
        job_id = jobs.add_job(session, DELIVER_JOB, payload, max_attempts=JOB_MAX_ATTEMPTS, key=DELIVER_JOB)
    WebhookRepository(session).add_pending(
        {
            "sid": sid,
            "account_sid": account_sid,
            "resource_sid": resource_sid,
            "purpose": purpose,
            "url": url,
            "method": method,
            "params": params,
            "body_format": body_format.value,
            "body": body,
            "status": DeliveryStatus.PENDING.value,
            "attempts": 0,
            "last_status_code": None,
            "last_error": None,
            "job_id": job_id,
            "created_at": now,
            "updated_at": now,
            "finished_at": None,
        }
    )
    return sid


async def enqueue_json_delivery(
    session: AsyncSession,
    *,
    account_sid: str,
    resource_sid: str,
    purpose: str,
    url: str,
    body: Mapping[str, Any],
) -> str:
    """Like :func:`enqueue_delivery`, for a POST whose body is ``body`` as JSON.

    Stored as ``body_format`` ``json`` with the serialised text in ``body``, so every retry
    sends the same bytes. Sent with ``Content-Type: application/json`` to ``url?bodySHA256=<hex
    sha256 of the body>`` and signed over that URL (Twilio's convention for JSON webhooks);
    retried, ordered and recorded like every other delivery.
    """
    return _store(
        session,
        account_sid=account_sid,
        resource_sid=resource_sid,
        purpose=purpose,
        url=url,
        method="POST",
        params={},
        body_format=BodyFormat.JSON,
        body=orjson.dumps(body).decode("utf-8"),
    )


@dataclass(frozen=True, slots=True)
class DeliveryQuery:
    page: PageRequest
    resource_sid: str | None = None
    purpose: str | None = None
    status: str | None = None


async def list_deliveries(
    session: AsyncSession, caller: Account, account_sid: str, query: DeliveryQuery
) -> tuple[int, list[WebhookDelivery]]:
    """One visible account's deliveries, newest first; another tenant's account → NotFound."""
    account = await accounts.get_visible(session, caller, account_sid)
    flt = DeliveryFilter(
        account_sid=account.sid, resource_sid=query.resource_sid, purpose=query.purpose, status=query.status
    )
    repo = WebhookRepository(session)
    total = await repo.count(flt)
    ensure_page_exists(query.page, total)
    return total, list(await repo.page(flt, offset=query.page.offset, limit=query.page.page_size))


async def get_delivery(
    session: AsyncSession, caller: Account, account_sid: str, sid: str
) -> tuple[WebhookDelivery, list[WebhookAttempt]]:
    """A delivery of a visible account with its attempts, first to last; otherwise NotFound."""
    account = await accounts.get_visible(session, caller, account_sid)
    repo = WebhookRepository(session)
    delivery = await repo.get(sid)
    if delivery is None or delivery.account_sid != account.sid:
        raise NotFound(f"Webhook delivery {sid} not found")
    return delivery, await repo.attempts(sid)
