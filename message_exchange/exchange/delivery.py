"""Delivery status of the SMS/MMS chat users send, copied onto their message records.

The messages domain changes a message's status in one place (``record_status``) and knows
nothing of the exchanges. We watch the ORM instead: when a flush writes a new status to a
message a chat channel sent (``created_via`` = the channel's name), a job
``exchange.delivery`` is added to that same transaction. So the record follows every status
change exactly once the change commits (and never if it rolls back), with no polling.

The job copies status / error code / error message onto the OUTBOUND record and, on
``failed`` or ``undelivered``, has the channel tell the chat user (once per record).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, UOWTransaction

from message_exchange.core.logging import get_logger
from message_exchange.core.sids import new_sid
from message_exchange.db.base import utcnow
from message_exchange.exchange import service
from message_exchange.exchange.channels import channel, channel_names
from message_exchange.exchange.repository import ExchangeRepository
from message_exchange.jobs.models import SID_PREFIX as JOB_PREFIX
from message_exchange.jobs.models import Job, JobStatus
from message_exchange.jobs.registry import JobContext, job_handler
from message_exchange.messages.models import Message
from message_exchange.messages.repository import MessageRepository
from message_exchange.messages.status import MessageStatus

log = get_logger("mx.exchange")

DELIVERY_JOB = "exchange.delivery"
FAILURES = frozenset({MessageStatus.FAILED.value, MessageStatus.UNDELIVERED.value})
_SEEN = "mx_exchange_delivery_seen"


@event.listens_for(Session, "before_flush")
def _watch_status(session: Session, flush_context: UOWTransaction, instances: Any) -> None:
    names = channel_names()
    if not names:
        return
    seen: set[tuple[str, str]] = session.info.setdefault(_SEEN, set())
    for obj in list(session.dirty):
        if not isinstance(obj, Message) or obj.created_via not in names:
            continue
        if not inspect(obj).attrs.status.history.has_changes():
            continue
        key = (obj.sid, str(obj.status))
        if key in seen:
            continue
        seen.add(key)
        now = utcnow()
        session.add(
            Job(
                id=new_sid(JOB_PREFIX),
                kind=DELIVERY_JOB,
                payload={"sid": obj.sid},
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
        )


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_SEEN, None)


@job_handler(DELIVERY_JOB)
async def copy_delivery_status(ctx: JobContext, payload: dict[str, Any]) -> None:
    session = ctx.session
    message = await MessageRepository(session).get(payload["sid"])
    record = await ExchangeRepository(session).record_of_message(payload["sid"])
    if message is None or record is None:
        return
    error_code = str(message.error_code) if message.error_code is not None else None
    service.set_status(record, message.status, error_code, message.error_message)
    await session.flush()
    if message.status in FAILURES and not record.failure_notified:
        record.failure_notified = True
        chat = channel(record.channel)
        if chat is not None:
            await chat.report_failure(session, record, ctx.settings)
        await session.flush()
