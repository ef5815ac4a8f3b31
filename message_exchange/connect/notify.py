"""Delivery notifications, expiry, and consent from STOP/START — hooked in without touching
the messages or inbound code.

Status changes. :func:`message_exchange.messages.service.record_status` has no hook, and
every status change goes through it as an ORM attribute write (``message.status = …``)
followed by a flush. An attribute ``set`` listener on ``Message.status`` notes each change
of a Messaging API message with a notifyurl (``created_via="connect-notify"``) in the session; a ``before_flush``
listener turns the notes into ``connect_events`` rows and one ``connect.notify`` job per
message, inside the same transaction as the status change — so a notification exists iff
its status change committed, in the order the changes happened. The ``connect.notify`` job
turns a message's unsent events, in order, into webhook deliveries (JSON
``deliveryInfoNotification``, retried and recorded like every callback).

Consent. An inbound message is stored by the inbound router through the ORM; the same
``before_flush`` listener asks the inbound module's own :func:`keyword_of` whether it is a
STOP or START word and records an account-wide opt-out / opt-in (``connect_consents`` with
``group_id`` NULL). The keyword list and the pair block stay in ``inbound``.

Expiry. A request with an ``expiry`` gets ``connect.dispatch`` jobs instead of
``message.dispatch``: the job fails a message still queued after its expiry (error 30036,
notified as 7208 "Message expired"), otherwise it runs the registered ``message.dispatch``
handler unchanged.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, object_session

from message_exchange.connect import codes
from message_exchange.connect.models import ConnectConsent, ConnectEvent, ConnectTransaction
from message_exchange.connect.repository import ConnectRepository
from message_exchange.core.sids import new_sid
from message_exchange.db.base import utcnow
from message_exchange.inbound.optout import Keyword, keyword_of
from message_exchange.jobs import service as jobs_service
from message_exchange.jobs.models import SID_PREFIX as JOB_PREFIX
from message_exchange.jobs.models import Job, JobStatus
from message_exchange.jobs.registry import JobContext, PermanentJobError, get_handler, job_handler
from message_exchange.messages.models import Message
from message_exchange.messages.repository import MessageRepository
from message_exchange.messages.service import DISPATCH_JOB, StatusEvent, record_status
from message_exchange.messages.status import MessageStatus
from message_exchange.webhooks.service import enqueue_json_delivery

# Messages of the Messaging API; those whose request has a notifyurl are marked apart, so
# the status hook costs nothing (no event, no job) for the others.
CREATED_VIA = "connect"
CREATED_VIA_NOTIFY = "connect-notify"
NOTIFY_JOB = "connect.notify"
CONNECT_DISPATCH_JOB = "connect.dispatch"
PURPOSE = "connect_notification"
_CHANGES = "mx_connect_status_changes"


# -- the hooks ------------------------------------------------------------------------------


@event.listens_for(Message.status, "set")
def _status_set(target: Message, value: Any, oldvalue: Any, initiator: Any) -> None:
    if target.created_via != CREATED_VIA_NOTIFY or value == oldvalue:
        return
    session = object_session(target)
    if session is not None:
        session.info.setdefault(_CHANGES, []).append((target, str(value)))


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, flush_context: Any, instances: Any) -> None:
    changes: list[tuple[Message, str]] = session.info.pop(_CHANGES, None) or []
    now = utcnow()
    notify: list[str] = []
    for message, status in changes:
        notice = codes.notice_for(status, message.error_code)
        if notice is None:
            continue
        session.add(
            ConnectEvent(
                message_sid=message.sid,
                code=notice.code,
                description=notice.description,
                delivery_status=notice.delivery_status,
                occurred_at=now,
                notified=False,
            )
        )
        if message.sid not in notify:
            notify.append(message.sid)
    for sid in notify:
        session.add(_job(NOTIFY_JOB, {"message_sid": sid}, now))
    if notify:
        # What jobs.service.enqueue sets, so in-process workers wake at commit.
        session.info[jobs_service._WAKE_ON_COMMIT] = True
    for obj in list(session.new):
        if isinstance(obj, Message) and obj.direction == "inbound":
            _record_keyword(session, obj, now)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_CHANGES, None)


def _job(kind: str, payload: dict[str, Any], now: datetime) -> Job:
    return Job(
        id=new_sid(JOB_PREFIX),
        kind=kind,
        payload=payload,
        status=JobStatus.PENDING.value,
        attempts=0,
        max_attempts=None,
        run_at=now,
        lease_expires_at=None,
        locked_by=None,
        last_error=None,
        created_at=now,
        updated_at=now,
        finished_at=None,
    )


def _record_keyword(session: Session, message: Message, now: datetime) -> None:
    keyword = keyword_of(message.body or "") if not message.media else None
    if keyword not in (Keyword.STOP, Keyword.START):
        return
    session.add(
        ConnectConsent(
            account_sid=message.account_sid,
            group_id=None,
            msisdn=message.from_address,
            channel="sms",
            consent="opt_out" if keyword is Keyword.STOP else "opt_in",
            source="keyword",
            number=message.to_address,
            recorded_at=now,
        )
    )


# -- notifications --------------------------------------------------------------------------


def timestamp(moment: datetime) -> str:
    """The platform's ``timeStamp``: ``2016-07-20T17:13:17.908`` (UTC)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def notification(txn: ConnectTransaction, ev: ConnectEvent) -> dict[str, Any]:
    """The documented ``deliveryInfoNotification`` body of one event."""
    return {
        "deliveryInfoNotification": {
            "deliveryInfo": {
                "deliveryChannel": txn.channel.upper(),
                "Description": ev.description,
                "destinationType": "msisdn",
                "timeStamp": timestamp(ev.occurred_at),
                "code": ev.code,
                "deliveryStatus": ev.delivery_status,
                "destination": txn.destination,
            },
            "correlationid": txn.correlationid,
            "callbackData": txn.callback_data,
            "transid": txn.transid,
        }
    }


@job_handler(NOTIFY_JOB)
async def notify(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Turn a message's unsent events, oldest first, into webhook deliveries to its notifyurl."""
    sid = str(payload.get("message_sid", ""))
    repo = ConnectRepository(ctx.session)
    # The lock serialises two notify jobs of one message, so deliveries keep the event order.
    txn = await repo.transaction_of_message(sid, for_update=True)
    if txn is None:
        raise PermanentJobError(f"no Messaging API transaction for message {sid}")
    for ev in await repo.pending_events(sid):
        if txn.notify_url:
            await enqueue_json_delivery(
                ctx.session,
                account_sid=txn.account_sid,
                resource_sid=sid,
                purpose=PURPOSE,
                url=txn.notify_url,
                body=notification(txn, ev),
            )
        ev.notified = True
    await ctx.session.flush()


@job_handler(CONNECT_DISPATCH_JOB)
async def dispatch_unless_expired(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Expire a queued message past its ``expiry``; otherwise the ordinary dispatch."""
    sid = str(payload.get("sid", ""))
    txn = await ConnectRepository(ctx.session).transaction_of_message(sid)
    if txn is not None and txn.expires_at is not None and txn.expires_at <= utcnow():
        message = await MessageRepository(ctx.session).get(sid, for_update=True)
        if message is not None and message.status == MessageStatus.QUEUED:
            await record_status(
                ctx.session, message, StatusEvent(MessageStatus.FAILED, codes.EXPIRED, "Message expired")
            )
        return
    handler = get_handler(DISPATCH_JOB)
    if handler is None:
        raise PermanentJobError("no message.dispatch handler is registered")
    await handler(ctx, payload)
