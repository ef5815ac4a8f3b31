"""The dispatch job: route a queued message, offer it to its carriers in order, record the outcome.

Routing gives the carriers to try, best first: the process's carrier registry resolves it
from its in-memory copy of the routes (no query per message); a process without one reads
the table (:func:`~message_exchange.carriers.service.routes_for`). Each is offered the message until one takes it:

- accepted → ``sending`` then ``sent``, with the carrier's name and message id;
- :class:`CarrierRejected` → ``failed`` with its code: a permanent refusal is not retried
  elsewhere (the next carrier would refuse the same bad number or content);
- :class:`CarrierUnavailable`, or a carrier not connected in this process → the next one;
- every carrier unavailable → the job is retried with backoff (the message stays
  ``queued``); on the last attempt → ``failed`` 30008;
- no route at all → ``failed`` 21612 at once;
- a carrier that runs here but is not up, while another node says it is up there (its
  bind slots are held by other nodes: fewer ``binds`` than worker processes) → the
  message is *steered*: a new dispatch job in the
  carrier's job queue, which only workers of processes where it is up claim, starting at
  that carrier. A steered job never steers again (it treats such a carrier as
  unavailable, so failover proceeds), and a queue nobody serves is taken by any worker
  after ``MX_JOB_QUEUE_ORPHAN_SECONDS``.

Batches. Workers give dispatch jobs to :func:`dispatch_batch` many at a time: one query
loads and locks their messages and routes are resolved. If some go to a network carrier
first, that read-only transaction ends, all their submits run at once (each failing over
along its routes as above; reaching the sandbox defers it to the next step), and the
messages are locked again. Then, in one transaction committed with the jobs' completion:
refusals (media on sms, no route), the network carriers' answers (sent, rejected, steered),
and the sandbox's messages, which it takes in one call. Steered jobs, a second job of the
same message, and messages no carrier could take now (retries, then 30008) go to
:func:`dispatch`, one job at a time.

Shared jobs. The sends one API transaction accepts together share dispatch jobs (payload
``sids``, up to ``MESSAGES_PER_DISPATCH_JOB``): under load the intake commits hundreds of
sends at once, and a job per message was five row writes and its share of a claim each. A
batch finishes a shared job whole: each of its messages that the batch could not settle
(no carrier could take it now) gets a job of its own there, which retries it as above.
Run on its own (its batch failed), a shared job only does that split.

Crash safety. A message's submission is recorded (``sent`` + carrier id) in this job's
transaction, which commits together with the job's completion; a message that is not
``queued`` any more is never offered again. The sandbox writes its receipt into this
same transaction, so it can never deliver twice. A network carrier (SMPP) is different:
before waiting on the network, dispatch ends its read-only transaction, and records the
result in a new one afterwards. On SQLite every transaction holds the one write lock
(BEGIN IMMEDIATE), so waiting for a submit_sm_resp inside it would serialise every worker
and the API behind one SMSC round trip — and deadlock with a connector that writes its own
rows (bind slots, submitted parts) through the session factory meanwhile. The price is
the window the design accepts anyway (DESIGN §2): a crash between the carrier's answer
and the commit re-offers the message when the job's lease expires; the SMPP connector
keeps its own record of acknowledged parts to shrink that window further.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from message_exchange.carriers import registry as carrier_registry
from message_exchange.carriers.base import (
    Carrier,
    CarrierRejected,
    CarrierUnavailable,
    MediaItem,
    OutboundMessage,
    SubmitOptions,
    SubmitResult,
)
from message_exchange.carriers.registry import carrier_queue
from message_exchange.carriers.sandbox import SandboxCarrier
from message_exchange.carriers.service import NO_ROUTE, SANDBOX, routes_for
from message_exchange.config import Settings
from message_exchange.core.logging import get_logger
from message_exchange.core.metrics import CARRIER_DISPATCHES
from message_exchange.jobs.registry import (
    BatchContext,
    BatchItem,
    JobContext,
    PermanentJobError,
    batch_handler,
    job_handler,
)
from message_exchange.jobs.service import add_job, enqueue
from message_exchange.messages.models import Message
from message_exchange.messages.repository import MessageRepository
from message_exchange.messages.service import (
    DISPATCH_JOB,
    DISPATCH_SID,
    StatusEvent,
    dispatch_sids,
    record_status,
)
from message_exchange.messages.status import MessageStatus

log = get_logger("mx.dispatch")

MEDIA_NOT_SUPPORTED = 21620
CARRIER_UNAVAILABLE = 30008
STEERED_TO = "steered_to"  # payload key of a dispatch job steered to the nodes of one carrier


@dataclass(frozen=True, slots=True)
class Steer:
    """The carrier is up on other nodes only: hand the message to its queue."""


def _outbound(message: Message) -> OutboundMessage:
    return OutboundMessage(
        sid=message.sid,
        account_sid=message.account_sid,
        channel=message.channel,
        from_address=message.from_address,
        to_address=message.to_address,
        body=message.body,
        media=tuple(MediaItem(item["url"], item.get("content_type")) for item in message.media),
        num_segments=message.num_segments,
        options=SubmitOptions.from_stored(message.options),
    )


async def _locked(session: AsyncSession, sid: str) -> Message:
    message = await MessageRepository(session).get(sid, for_update=True)
    if message is None:
        raise PermanentJobError(f"message {sid} does not exist")
    return message


async def _finish(session: AsyncSession, sid: str, *events: StatusEvent) -> None:
    message = await _locked(session, sid)
    if message.status != MessageStatus.QUEUED:
        return  # another attempt settled it while this one waited on a carrier
    for event in events:
        await record_status(session, message, event)


SENDING = StatusEvent(MessageStatus.SENDING)


def _refusal(message: Message, carriers: list[str] | None) -> StatusEvent | None:
    """Why ``message`` fails before any carrier sees it (``carriers``: its routes), or None."""
    if message.media and message.channel == "sms":
        # The document: a capability the channel lacks marks the message failed.
        return StatusEvent(MessageStatus.FAILED, MEDIA_NOT_SUPPORTED, "The sms channel does not carry media; use mms")
    if carriers is not None and not carriers:
        text = f"No carrier route for {message.channel} to {message.to_address}"
        return StatusEvent(MessageStatus.FAILED, NO_ROUTE, text)
    return None


async def _routes(session: AsyncSession, message: Message) -> list[str]:
    live = carrier_registry.current()
    if live is not None:  # this process's snapshot of the routes, refreshed every few seconds
        return live.routes_for(message.channel, message.to_address)
    return await routes_for(session, message.channel, message.to_address)


@dataclass(frozen=True, slots=True)
class ToSandbox:
    """The next route is the sandbox, which writes into a transaction: the caller offers it there."""


async def _offer(
    session: AsyncSession | None,
    settings: Settings,
    carriers: list[str],
    outbound: OutboundMessage,
    unavailable: list[str],
    *,
    may_steer: bool,
) -> tuple[str, SubmitResult | CarrierRejected | Steer | ToSandbox] | None:
    """Offer ``outbound`` to ``carriers`` in order: who took, refused or is steered to, or None
    (reasons in ``unavailable``). Without a session (network submits of a batch, running
    concurrently) reaching the sandbox returns :class:`ToSandbox` instead of offering it."""
    live = carrier_registry.current()
    for name in carriers:
        carrier: Carrier | None
        if name == SANDBOX:
            if session is None:
                return name, ToSandbox()
            # Writes its receipt into this transaction: exactly once, with the status change.
            carrier = SandboxCarrier(session, settings)
        else:
            carrier = live.get(name) if live is not None else None
            if carrier is None:
                unavailable.append(f"{name}: not running in this process")
                CARRIER_DISPATCHES.labels(name, "unavailable").inc()
                continue
            if may_steer and not carrier.is_up() and live is not None and live.up_elsewhere(name):
                CARRIER_DISPATCHES.labels(name, "steered").inc()
                return name, Steer()
            if session is not None and session.in_transaction():
                # Read-only so far: release SQLite's write lock before waiting on the network.
                await session.rollback()
        try:
            result = await carrier.submit(outbound)
        except CarrierRejected as exc:
            CARRIER_DISPATCHES.labels(name, "rejected").inc()
            log.info("carrier rejected the message", sid=outbound.sid, carrier=name, code=exc.code, error=exc.message)
            return name, exc
        except CarrierUnavailable as exc:
            CARRIER_DISPATCHES.labels(name, "unavailable").inc()
            log.info("carrier unavailable; trying the next route", sid=outbound.sid, carrier=name, error=exc.message)
            unavailable.append(f"{name}: {exc.message}")
            continue
        except Exception as exc:
            if name == SANDBOX:
                raise  # it may have written into this transaction: the job's rollback and retry handle it
            # A connector's bug must not stop traffic that another route can carry.
            CARRIER_DISPATCHES.labels(name, "error").inc()
            log.exception("carrier connector failed; trying the next route", sid=outbound.sid, carrier=name)
            unavailable.append(f"{name}: {type(exc).__name__}")
            continue
        CARRIER_DISPATCHES.labels(name, "accepted").inc()
        return name, result
    return None


def _split(session: AsyncSession, kind: str, sids: Collection[str]) -> None:
    """A job of its own for each of ``sids`` (messages of a shared job its run did not finish)."""
    for sid in sorted(sids):
        add_job(session, kind, {DISPATCH_SID: sid})


@job_handler(DISPATCH_JOB)
async def dispatch(ctx: JobContext, payload: dict[str, Any]) -> None:
    session = ctx.session
    sids = dispatch_sids(payload)
    if not sids:
        raise PermanentJobError(f"dispatch job without a message: {payload!r}"[:500])
    if len(sids) > 1:
        _split(session, ctx.kind, sids)  # a shared job run on its own (its batch failed)
        return
    sid = sids[0]
    message = await _locked(session, sid)
    if message.status != MessageStatus.QUEUED:
        return  # dispatched already: a repeated job must not submit twice
    refusal = _refusal(message, None)
    carriers = await _routes(session, message) if refusal is None else []
    refusal = refusal or _refusal(message, carriers)
    if refusal is not None:
        await _finish(session, sid, SENDING, refusal)
        return
    outbound = _outbound(message)
    steered_to = payload.get(STEERED_TO)
    if steered_to in carriers and ctx.attempt == 1:
        carriers = carriers[carriers.index(steered_to) :]  # those before it were unavailable a moment ago
    unavailable: list[str] = []
    offered = await _offer(session, ctx.settings, carriers, outbound, unavailable, may_steer=steered_to is None)
    if offered is not None:
        name, outcome = offered
        if not isinstance(outcome, ToSandbox):  # (only offered without a session)
            await _record_offer(session, ctx.kind, await _locked(session, sid), name, outcome)
        return
    summary = "; ".join(unavailable)
    if not ctx.is_last_attempt:
        raise CarrierUnavailable(f"no carrier could take the message now ({summary})")  # retried with backoff
    log.warning("every carrier unavailable on the last attempt", sid=sid, carriers=summary)
    text = f"No carrier available: {summary}"[:1000]
    await _finish(session, sid, SENDING, StatusEvent(MessageStatus.FAILED, CARRIER_UNAVAILABLE, text))


def _rejected(refusal: CarrierRejected) -> StatusEvent:
    code = refusal.code if refusal.code is not None else CARRIER_UNAVAILABLE  # a refusal without a mapping
    return StatusEvent(MessageStatus.FAILED, code, refusal.message)


def _batch_jobs(items: Collection[BatchItem]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """sid → the job that dispatches it in this batch, and the shared jobs' messages by job id.

    A steered job, and a single job of a message already named by another job of the batch
    (rare), are left out: they run one by one."""
    jobs: dict[str, str] = {}
    shared: dict[str, list[str]] = {}
    for item in items:
        sids = dispatch_sids(item.payload)
        if len(sids) > 1:
            shared[item.job_id] = sids
            for sid in sids:
                jobs.setdefault(sid, item.job_id)
        elif sids and STEERED_TO not in item.payload and sids[0] not in jobs:
            jobs[sids[0]] = item.job_id
    return jobs, shared


@batch_handler(DISPATCH_JOB)
async def dispatch_batch(ctx: BatchContext) -> list[str]:
    """Dispatch many messages in one transaction; see "Batches" in the module docstring."""
    session = ctx.session
    jobs, shared = _batch_jobs(ctx.items)
    repo = MessageRepository(session)
    messages = await repo.get_many(jobs, for_update=True)
    # A message that does not exist: its single job fails permanently one by one; a shared
    # job has nothing to do for it.
    missing = set(jobs) - set(messages)
    finished: set[str] = set()
    refused: dict[str, StatusEvent] = {}
    to_sandbox: list[str] = []
    to_network: dict[str, tuple[OutboundMessage, list[str]]] = {}
    for sid, message in messages.items():
        if message.status != MessageStatus.QUEUED:
            finished.add(sid)  # dispatched already
            continue
        refusal = _refusal(message, None)
        carriers = await _routes(session, message) if refusal is None else []
        refusal = refusal or _refusal(message, carriers)
        if refusal is not None:
            refused[sid] = refusal
        elif carriers[0] == SANDBOX:
            to_sandbox.append(sid)
        else:
            to_network[sid] = (_outbound(message), carriers)

    offered: dict[str, tuple[str, SubmitResult | CarrierRejected | Steer | ToSandbox]] = {}
    if to_network:
        # Read-only so far: end the transaction (SQLite's write lock, PostgreSQL's row locks)
        # while every network submit of the batch runs at once, then lock the messages again.
        await session.rollback()
        answers = await asyncio.gather(
            *(
                _offer(None, ctx.settings, carriers, outbound, [], may_steer=True)
                for outbound, carriers in to_network.values()
            )
        )
        for sid, answer in zip(to_network, answers, strict=True):
            if answer is not None:  # every carrier unavailable: one by one, with retries and 30008
                offered[sid] = answer
        messages = await repo.get_many(jobs, for_update=True)
        to_sandbox += [sid for sid, (_, outcome) in offered.items() if isinstance(outcome, ToSandbox)]

    for sid, refusal in refused.items():
        await record_status(session, messages[sid], SENDING)
        await record_status(session, messages[sid], refusal)
        finished.add(sid)
    for sid, (name, outcome) in offered.items():
        current = messages.get(sid)
        if not isinstance(outcome, ToSandbox) and current is not None:
            await _record_offer(session, ctx.kind, current, name, outcome)
            finished.add(sid)
    queued = [messages[sid] for sid in to_sandbox if sid in messages]
    await _submit_to_sandbox(session, ctx.settings, [m for m in queued if m.status == MessageStatus.QUEUED])
    finished.update(message.sid for message in queued)
    # A shared job is done now; its messages left (every carrier unavailable) get jobs of their own.
    # (A message also named by a single job of the batch is that job's.)
    left = {sid for job_id, sids in shared.items() for sid in sids if jobs[sid] == job_id}
    _split(session, ctx.kind, left - finished - missing)
    singles = {job_id for sid, job_id in jobs.items() if sid in finished and job_id not in shared}
    return [*shared, *singles]


async def _record_offer(
    session: AsyncSession, kind: str, message: Message, name: str, outcome: SubmitResult | CarrierRejected | Steer
) -> None:
    """What a network carrier said (or that the message goes to another node), recorded on the
    locked ``message`` after the submit, outside the transaction that read it."""
    if message.status != MessageStatus.QUEUED:
        # Another attempt got here first (its lease was taken over): this submission was a resend.
        log.warning("message settled elsewhere while this attempt submitted it", sid=message.sid, carrier=name)
    elif isinstance(outcome, Steer):
        log.info("carrier up on other nodes only; steering the message to them", sid=message.sid, carrier=name)
        # The same kind: a wrapper (the Messaging API's expiry check) runs again on the other node.
        await enqueue(session, kind, {"sid": message.sid, STEERED_TO: name}, queue=carrier_queue(name))
    elif isinstance(outcome, CarrierRejected):
        await record_status(session, message, SENDING)
        await record_status(session, message, _rejected(outcome))
    else:
        await record_status(session, message, SENDING)
        sent = StatusEvent(MessageStatus.SENT, carrier=name, carrier_message_id=outcome.carrier_message_id)
        await record_status(session, message, sent)


async def _submit_to_sandbox(session: AsyncSession, settings: Settings, messages: list[Message]) -> None:
    outcomes = await SandboxCarrier(session, settings).submit_many([_outbound(m) for m in messages])
    for message, result in zip(messages, outcomes, strict=True):
        await record_status(session, message, SENDING)
        if isinstance(result, CarrierRejected):
            CARRIER_DISPATCHES.labels(SANDBOX, "rejected").inc()
            await record_status(session, message, _rejected(result))
        else:
            CARRIER_DISPATCHES.labels(SANDBOX, "accepted").inc()
            accepted = StatusEvent(MessageStatus.SENT, carrier=SANDBOX, carrier_message_id=result.carrier_message_id)
            await record_status(session, message, accepted)
