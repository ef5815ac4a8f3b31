"""Delivery notifications, expiry, and consent from STOP/START.

Status changes. A status listener (:func:`message_exchange.messages.service.add_status_listener`)
sees every status change of a Messaging API message with a notifyurl
(``created_via="connect-notify"``) inside the transaction that makes it, and adds a
``connect_events`` row and a ``connect.notify`` job there — so a notification exists iff
its status change committed, in the order the changes happened. The ``connect.notify`` job
turns a message's unsent events, in order, into webhook deliveries (JSON
``deliveryInfoNotification``, retried and recorded like every callback).

Consent. A keyword listener (:func:`message_exchange.inbound.service.add_keyword_listener`)
records an account-wide opt-out / opt-in (``connect_consents`` with ``group_id`` NULL) for
each STOP / START the inbound router applies. The keyword list and the pair block stay in
``inbound``.

Expiry. A request with an ``expiry`` gets ``connect.dispatch`` jobs instead of
``message.dispatch``: the job fails a message still queued after its expiry (error 30036,
notified as 7208 "Message expired"), otherwise it runs the registered ``message.dispatch``
handler unchanged.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from message_exchange.accounts.models import Account
from message_exchange.connect import codes
from message_exchange.connect.models import ConnectConsent, ConnectEvent, ConnectTransaction
from message_exchange.connect.repository import ConnectRepository
from message_exchange.db.base import utcnow
from message_exchange.inbound.optout import Keyword
from message_exchange.inbound.service import add_keyword_listener
from message_exchange.jobs.registry import JobContext, PermanentJobError, get_handler, job_handler
from message_exchange.jobs.service import enqueue
from message_exchange.messages.models import Message
from message_exchange.messages.repository import MessageRepository
from message_exchange.messages.service import DISPATCH_JOB, StatusEvent, add_status_listener, record_status
from message_exchange.messages.status import MessageStatus
from message_exchange.webhooks.service import enqueue_json_delivery

# Messages of the Messaging API; those whose request has a notifyurl are marked apart, so
# the status listener costs nothing (no event, no job) for the others.
CREATED_VIA = "connect"
CREATED_VIA_NOTIFY = "connect-notify"
NOTIFY_JOB = "connect.notify"
CONNECT_DISPATCH_JOB = "connect.dispatch"
PURPOSE = "connect_notification"


# -- the hooks ------------------------------------------------------------------------------


async def _status_changed(session: AsyncSession, message: Message, status: MessageStatus) -> None:
    if message.created_via != CREATED_VIA_NOTIFY:
        return
    notice = codes.notice_for(status, message.error_code)
    if notice is None:
        return
    session.add(
        ConnectEvent(
            message_sid=message.sid,
            code=notice.code,
            description=notice.description,
            delivery_status=notice.delivery_status,
            occurred_at=utcnow(),
            notified=False,
        )
    )
    await enqueue(session, NOTIFY_JOB, {"message_sid": message.sid})


async def _keyword_applied(session: AsyncSession, owner: Account, message: Message, keyword: Keyword) -> None:
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
            recorded_at=utcnow(),
        )
    )


add_status_listener(_status_changed)
add_keyword_listener(_keyword_applied)


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
