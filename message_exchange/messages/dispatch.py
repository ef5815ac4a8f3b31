"""The dispatch job: hand a queued message to its carrier and record what happened."""

from __future__ import annotations

from typing import Any

from message_exchange.carriers.base import CarrierRejected, CarrierUnavailable, MediaItem, OutboundMessage
from message_exchange.carriers.sandbox import SandboxCarrier
from message_exchange.core.logging import get_logger
from message_exchange.jobs.registry import JobContext, PermanentJobError, job_handler
from message_exchange.messages.models import Message
from message_exchange.messages.repository import MessageRepository
from message_exchange.messages.service import DISPATCH_JOB, StatusEvent, record_status
from message_exchange.messages.status import MessageStatus

log = get_logger("mx.dispatch")

MEDIA_NOT_SUPPORTED = 21620
CARRIER_UNAVAILABLE = 30008


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
    )


@job_handler(DISPATCH_JOB)
async def dispatch(ctx: JobContext, payload: dict[str, Any]) -> None:
    session = ctx.session
    message = await MessageRepository(session).get(payload["sid"], for_update=True)
    if message is None:
        raise PermanentJobError(f"message {payload['sid']} does not exist")
    if message.status != MessageStatus.QUEUED:
        return  # dispatched already: a repeated job must not submit twice
    await record_status(session, message, StatusEvent(MessageStatus.SENDING))
    if message.media and message.channel == "sms":
        # The document: a capability the channel lacks marks the message failed.
        await record_status(
            session,
            message,
            StatusEvent(MessageStatus.FAILED, MEDIA_NOT_SUPPORTED, "The sms channel does not carry media; use mms"),
        )
        return
    # Routing between carriers arrives with carrier connections; the sandbox is the default route.
    carrier = SandboxCarrier(session, ctx.settings)
    try:
        result = await carrier.submit(_outbound(message))
    except CarrierRejected as exc:
        await record_status(session, message, StatusEvent(MessageStatus.FAILED, exc.code, exc.message))
        return
    except CarrierUnavailable as exc:
        if not ctx.is_last_attempt:
            raise  # rolls back "sending"; the queue retries with backoff
        log.warning("carrier unavailable on the last attempt", sid=message.sid, error=exc.message)
        await record_status(session, message, StatusEvent(MessageStatus.FAILED, CARRIER_UNAVAILABLE, exc.message))
        return
    await record_status(
        session,
        message,
        StatusEvent(MessageStatus.SENT, carrier=carrier.name, carrier_message_id=result.carrier_message_id),
    )
