"""The inbound router: a message from a carrier → stored, opt-out keywords, the number's SmsUrl.

::

    inbound = InboundMessage("smpp-main", "0a1b2c", "+15551230000", "+15559870000", "hi")
    await receive(session, inbound, settings=settings)

Deduplicated on ``(carrier, carrier_message_id)``: a second delivery of the same provider
id stores nothing and triggers nothing (:class:`~message_exchange.inbound.models.InboundReceipt`).
A message to a number nobody owns, or whose owner is not active, is logged and dropped.

Stored as a :class:`~message_exchange.messages.models.Message` with ``direction="inbound"``
(the Twilio / Restcomm word; the Messages API document's attribute table says "incoming" —
renderers map it), status ``received``, ``created_via="inbound"``.

The SmsUrl webhook (purpose ``sms_url``, the number's SmsMethod) carries Twilio's and
Restcomm's parameters: ``MessageSid, SmsSid, SmsMessageSid, AccountSid, From, To, Body,
NumMedia, NumSegments, SmsStatus, ApiVersion, MediaUrl{N}, MediaContentType{N}`` (N from
0) plus the Messages API's repeated ``MediaUrl`` / ``MediaType``. ``From``/``To`` are plain
E.164 as Twilio and Restcomm send them (not the ``sms:`` URIs of the Messages API document's
example), so existing Twilio/Restcomm apps and validators work unchanged. When that
delivery finally fails, the same parameters go to the SmsFallbackUrl (purpose
``sms_fallback_url``); the XML reply of either is executed by :mod:`.handlers`.

Auto replies (HELP, and the STOP / START confirmations Twilio sends) go through
:func:`~message_exchange.messages.service.send_message` like any message, direction
``outbound-reply``. A STOP's confirmation is queued before the block is recorded, so it is
the last message the subscriber gets from that number.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from message_exchange.accounts import service as accounts
from message_exchange.accounts.models import Account, AccountStatus
from message_exchange.config import Settings
from message_exchange.core.errors import BadRequest, NotFound
from message_exchange.core.logging import get_logger
from message_exchange.core.sids import new_sid
from message_exchange.db.base import utcnow
from message_exchange.encoding import count_segments
from message_exchange.inbound.models import InboundReceipt
from message_exchange.inbound.optout import Keyword, keyword_of
from message_exchange.inbound.repository import InboundRepository
from message_exchange.messages.addresses import ChannelAddress
from message_exchange.messages.models import SID_PREFIX, Message
from message_exchange.messages.service import API_VERSION, TWILIO_API, build_draft, send_message
from message_exchange.messages.status import MessageStatus
from message_exchange.numbers.models import IncomingPhoneNumber
from message_exchange.numbers.service import find_by_phone_number
from message_exchange.webhooks.service import enqueue_delivery

log = get_logger("mx.inbound")

InboundRoute = Callable[[AsyncSession, Message, Settings], Awaitable[bool]]
_ROUTES: list[InboundRoute] = []


def add_route(route: InboundRoute) -> None:
    """Let another domain (the chat exchanges) take a stored inbound message before the SmsUrl.

    ``route`` is awaited after storage, dedupe and opt-out keywords; True means it took the
    message (its number is mapped to a chat user), so the number's SmsUrl is not called.
    """
    if route not in _ROUTES:
        _ROUTES.append(route)


# Called after an opt-out keyword took effect: (session, owner account, inbound message, keyword).
KeywordListener = Callable[[AsyncSession, Account, Message, Keyword], Awaitable[None]]
_KEYWORD_LISTENERS: list[KeywordListener] = []


def add_keyword_listener(listener: KeywordListener) -> None:
    """Let another domain follow STOP / START / HELP (the Messaging API's consent records)."""
    if listener not in _KEYWORD_LISTENERS:
        _KEYWORD_LISTENERS.append(listener)


SMS_URL = "sms_url"
SMS_FALLBACK_URL = "sms_fallback_url"
REPLY_DIRECTION = "outbound-reply"
REPLY_CREATED_VIA = "sms"
STOP_CONFIRMATION = (
    "You have successfully been unsubscribed. You will not receive any more messages from this number. "
    "Reply START to resubscribe."
)
START_CONFIRMATION = (
    "You have successfully been re-subscribed to messages from this number. Reply HELP for help. "
    "Reply STOP to unsubscribe."
)


@dataclass(frozen=True, slots=True)
class InboundMedia:
    url: str
    content_type: str | None = None


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A message a carrier (or chat connector) handed us, addressed to one of our numbers."""

    carrier: str
    carrier_message_id: str
    from_address: str
    to_address: str
    body: str = ""
    media: Sequence[InboundMedia] = field(default=())
    channel: str = "sms"


def webhook_params(message: Message) -> dict[str, str | list[str]]:
    """The SmsUrl (and SmsFallbackUrl) parameters of inbound ``message``."""
    params: dict[str, str | list[str]] = {
        "MessageSid": message.sid,
        "SmsSid": message.sid,
        "SmsMessageSid": message.sid,
        "AccountSid": message.account_sid,
        "From": message.from_address,
        "To": message.to_address,
        "Body": message.body,
        "NumMedia": str(len(message.media)),
        "NumSegments": str(message.num_segments),
        "SmsStatus": MessageStatus.RECEIVED.value,
        "ApiVersion": message.api_version,
    }
    for index, item in enumerate(message.media):
        params[f"MediaUrl{index}"] = item["url"]
        params[f"MediaContentType{index}"] = item.get("content_type") or ""
    if message.media:
        params["MediaUrl"] = [item["url"] for item in message.media]
        params["MediaType"] = [item.get("content_type") or "" for item in message.media]
    return params


async def _active_owner(session: AsyncSession, number: IncomingPhoneNumber) -> Account | None:
    try:
        account = await accounts.get_by_sid(session, number.account_sid)
    except NotFound:
        return None
    return account if account.status == AccountStatus.ACTIVE else None


def _storable(inbound: InboundMessage) -> bool:
    """Fits the columns (a carrier's odd input must not break the caller's transaction)."""
    return (
        0 < len(inbound.carrier) <= 64
        and 0 < len(inbound.carrier_message_id) <= 128
        and 0 < len(inbound.from_address) <= 32
        and 0 < len(inbound.to_address) <= 32
    )


async def receive(session: AsyncSession, inbound: InboundMessage, *, settings: Settings) -> Message | None:
    """Route ``inbound``; the stored message, or None when it was a duplicate or dropped."""
    if not _storable(inbound):
        log.warning(
            "inbound message dropped: field too long",
            carrier=inbound.carrier[:64],
            carrier_message_id=inbound.carrier_message_id[:128],
        )
        return None
    number = await find_by_phone_number(session, inbound.to_address)
    owner = await _active_owner(session, number) if number is not None else None
    if number is None or owner is None:
        log.warning(
            "inbound message dropped: no active owner of the number",
            carrier=inbound.carrier,
            carrier_message_id=inbound.carrier_message_id,
            to=inbound.to_address,
        )
        return None
    now = utcnow()
    media = [{"url": item.url, "content_type": item.content_type} for item in inbound.media]
    message = Message(
        sid=new_sid(SID_PREFIX),
        account_sid=owner.sid,
        direction="inbound",
        channel="mms" if media else inbound.channel,
        from_address=inbound.from_address,
        to_address=number.phone_number,
        body=inbound.body,
        media=media,
        num_segments=count_segments(inbound.body) if inbound.body else 1,
        status=MessageStatus.RECEIVED.value,
        price_unit="USD",
        status_callback=None,
        status_callback_method="POST",
        api_version=API_VERSION,
        created_via="inbound",
        carrier=inbound.carrier,
        carrier_message_id=inbound.carrier_message_id,
        date_created=now,
        date_updated=now,
        date_sent=now,
    )
    receipt = InboundReceipt(
        carrier=inbound.carrier, carrier_message_id=inbound.carrier_message_id, message_sid=message.sid, received_at=now
    )
    repo = InboundRepository(session)
    if not await repo.add_once(receipt, message):
        log.info(
            "duplicate inbound message ignored", carrier=inbound.carrier, carrier_message_id=inbound.carrier_message_id
        )
        return None
    await _apply_keyword(session, owner, message, settings)
    for route in _ROUTES:
        if await route(session, message, settings):
            return message
    if number.sms_url:
        await enqueue_delivery(
            session,
            account_sid=owner.sid,
            resource_sid=message.sid,
            purpose=SMS_URL,
            url=number.sms_url,
            method=number.sms_method or "POST",
            params=webhook_params(message),
        )
    return message


async def _apply_keyword(session: AsyncSession, owner: Account, message: Message, settings: Settings) -> None:
    keyword = keyword_of(message.body) if not message.media else None
    if keyword is None:
        return
    repo = InboundRepository(session)
    subscriber, ours = message.from_address, message.to_address
    if keyword is Keyword.STOP:
        await send_reply(session, owner, inbound=message, body=STOP_CONFIRMATION)
        await repo.add_opt_out(subscriber, ours, utcnow())
    elif keyword is Keyword.START:
        await repo.remove_opt_out(subscriber, ours)
        await send_reply(session, owner, inbound=message, body=START_CONFIRMATION)
    else:
        await send_reply(session, owner, inbound=message, body=settings.help_reply)
    for listener in _KEYWORD_LISTENERS:
        await listener(session, owner, message, keyword)
    log.info("opt-out keyword", keyword=keyword.value, subscriber=subscriber, number=ours, message_sid=message.sid)


async def send_reply(
    session: AsyncSession,
    account: Account,
    *,
    inbound: Message,
    body: str,
    to: ChannelAddress | None = None,
    from_: ChannelAddress | None = None,
    media: Sequence[str] = (),
    status_callback: str | None = None,
    status_callback_method: str | None = None,
) -> Message | None:
    """Send a reply to ``inbound`` (default: back to its sender, from the number it reached).

    A reply the send rules refuse (opted-out subscriber, a number not ours, bad body) is
    logged and skipped: None.
    """
    if to is None and not inbound.from_address.startswith("+"):
        log.info("no reply to a sender that is not a phone number", inbound_sid=inbound.sid)
        return None
    channel = "mms" if media else "sms"
    recipient = to or ChannelAddress(channel, inbound.from_address)
    sender = from_ or ChannelAddress(channel, inbound.to_address)
    try:
        draft = build_draft(
            sender=ChannelAddress(channel, sender.address, sender.alphanumeric),
            recipient=ChannelAddress(channel, recipient.address, recipient.alphanumeric),
            body=body,
            media=[{"url": url, "content_type": None} for url in media],
            status_callback=status_callback,
            status_callback_method=status_callback_method,
            created_via=REPLY_CREATED_VIA,
            names=TWILIO_API,
        )
        reply = await send_message(session, account, draft, TWILIO_API)
    except BadRequest as exc:
        log.warning("reply not sent", inbound_sid=inbound.sid, code=exc.code, reason=str(exc))
        return None
    reply.direction = REPLY_DIRECTION
    await session.flush()
    return reply
