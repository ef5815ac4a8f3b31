"""Delivery status of the SMS/MMS chat users send, copied onto their message records.

A status listener (:func:`message_exchange.messages.service.add_status_listener`) sees each
status change of a message a chat channel sent (``created_via`` = the channel's name) inside
the transaction that makes it, and adds an ``exchange.delivery`` job there. So the record
follows every status change exactly once the change commits (and never if it rolls back),
with no polling.

The job copies status / error code / error message onto the OUTBOUND record and, on
``failed`` or ``undelivered``, has the channel tell the chat user (once per record).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from message_exchange.core.logging import get_logger
from message_exchange.exchange import service
from message_exchange.exchange.channels import channel, channel_names
from message_exchange.exchange.repository import ExchangeRepository
from message_exchange.jobs.registry import JobContext, job_handler
from message_exchange.jobs.service import enqueue
from message_exchange.messages.models import Message
from message_exchange.messages.repository import MessageRepository
from message_exchange.messages.service import add_status_listener
from message_exchange.messages.status import MessageStatus

log = get_logger("mx.exchange")

DELIVERY_JOB = "exchange.delivery"
FAILURES = frozenset({MessageStatus.FAILED.value, MessageStatus.UNDELIVERED.value})


async def _status_changed(session: AsyncSession, message: Message, status: MessageStatus) -> None:
    if message.created_via in channel_names():
        await enqueue(session, DELIVERY_JOB, {"sid": message.sid})


add_status_listener(_status_changed)


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
