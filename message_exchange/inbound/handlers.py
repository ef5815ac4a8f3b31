"""What happens after an inbound message's SmsUrl delivery: run its RCML reply, or fall back.

- A 2xx answer of the SmsUrl (or SmsFallbackUrl) whose body is an RCML ``<Response>`` is
  executed: each ``<Message>`` / ``<Sms>`` sends one reply through the send pipeline. This
  runs in the delivery job's transaction (:func:`~message_exchange.webhooks.handlers.on_response`),
  so the replies are queued exactly once. A body that is empty, not XML, malformed or
  carries a DTD sends nothing and is logged.
- When the SmsUrl delivery has finally failed, the same parameters are delivered to the
  number's SmsFallbackUrl, if it has one.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from message_exchange.accounts import service as accounts
from message_exchange.accounts.models import AccountStatus
from message_exchange.core.errors import BadRequest, NotFound
from message_exchange.core.logging import get_logger
from message_exchange.inbound.rcml import RcmlError, ReplyVerb, parse_reply
from message_exchange.inbound.service import SMS_FALLBACK_URL, SMS_URL, send_reply
from message_exchange.messages.addresses import ChannelAddress, parse_channel_uri, parse_e164
from message_exchange.messages.models import Message
from message_exchange.messages.repository import MessageRepository
from message_exchange.numbers.service import find_by_phone_number
from message_exchange.webhooks.client import WebhookResult
from message_exchange.webhooks.handlers import on_failure, on_response
from message_exchange.webhooks.models import WebhookDelivery
from message_exchange.webhooks.service import enqueue_delivery

log = get_logger("mx.inbound")


def _address(raw: str, *, param: str, sender: bool) -> ChannelAddress:
    """An RCML ``to``/``from``: E.164, or a channel URI (``sms:+1…``)."""
    if ":" in raw:
        return parse_channel_uri(raw, param=param, sender=sender)
    return ChannelAddress("sms", parse_e164(raw, param=param))


async def _inbound_message(session: AsyncSession, delivery: WebhookDelivery) -> Message | None:
    message = await MessageRepository(session).get(delivery.resource_sid)
    if message is None or message.direction != "inbound":
        log.warning("delivery's inbound message is gone", delivery_sid=delivery.sid, sid=delivery.resource_sid)
        return None
    return message


async def _execute(session: AsyncSession, inbound: Message, verb: ReplyVerb) -> None:
    try:
        to = _address(verb.to, param="to", sender=False) if verb.to else None
        from_ = _address(verb.from_, param="from", sender=True) if verb.from_ else None
    except BadRequest as exc:
        log.warning("RCML reply verb skipped", inbound_sid=inbound.sid, verb=verb.verb, reason=str(exc))
        return
    try:
        account = await accounts.get_by_sid(session, inbound.account_sid)
    except NotFound:
        return
    if account.status != AccountStatus.ACTIVE:
        log.warning("RCML reply not sent: account not active", inbound_sid=inbound.sid)
        return
    await send_reply(
        session,
        account,
        inbound=inbound,
        body=verb.body,
        to=to,
        from_=from_,
        media=verb.media,
        status_callback=verb.action,
        status_callback_method=verb.method or "POST",
    )


async def run_reply(session: AsyncSession, delivery: WebhookDelivery, result: WebhookResult) -> None:
    """Execute the RCML in ``result`` for the inbound message ``delivery`` was about."""
    try:
        verbs = parse_reply(result.body)
    except RcmlError as exc:
        log.info("SmsUrl answer not executed", delivery_sid=delivery.sid, reason=str(exc))
        return
    inbound = await _inbound_message(session, delivery)
    if inbound is None:
        return
    for verb in verbs:
        await _execute(session, inbound, verb)


on_response(SMS_URL)(run_reply)
on_response(SMS_FALLBACK_URL)(run_reply)


@on_failure(SMS_URL)
async def use_fallback(session: AsyncSession, delivery: WebhookDelivery) -> None:
    """The SmsUrl failed for good: deliver the same parameters to the SmsFallbackUrl."""
    number = await find_by_phone_number(session, str(delivery.params.get("To", "")))
    if number is None or number.account_sid != delivery.account_sid or not number.sms_fallback_url:
        return
    await enqueue_delivery(
        session,
        account_sid=delivery.account_sid,
        resource_sid=delivery.resource_sid,
        purpose=SMS_FALLBACK_URL,
        url=number.sms_fallback_url,
        method=number.sms_fallback_method or "POST",
        params=delivery.params,
    )
