"""Conversations and message records, for any channel. Never commits; knows no HTTP.

A conversation is (channel, mapping, remote handset): every message between that mapping's
chat user(s) and that handset, in one chat space.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from message_exchange.accounts import service as accounts
from message_exchange.core.errors import BadRequest
from message_exchange.core.sids import new_sid
from message_exchange.db.base import utcnow
from message_exchange.exchange.models import CONVERSATION_PREFIX, Conversation, ExchangeMessage
from message_exchange.exchange.repository import ExchangeRepository
from message_exchange.messages.addresses import ChannelAddress
from message_exchange.messages.models import Message
from message_exchange.messages.service import TWILIO_API, build_draft, send_message
from message_exchange.numbers.service import find_by_phone_number, remove_number

INBOUND = "INBOUND"
OUTBOUND = "OUTBOUND"
# channel_status of an INBOUND record: the chat platform's side of the delivery.
QUEUED = "queued"
DELIVERED = "delivered"
FAILED = "failed"


async def conversation_for(
    session: AsyncSession, *, channel: str, account_sid: str, mapping_sid: str, local: str, remote: str
) -> Conversation:
    """The conversation of (mapping, remote), made on first use (a concurrent maker's row wins)."""
    repo = ExchangeRepository(session)
    existing = await repo.conversation_of(channel, mapping_sid, remote)
    if existing is not None:
        return existing
    now = utcnow()
    conversation = Conversation(
        sid=new_sid(CONVERSATION_PREFIX),
        channel=channel,
        account_sid=account_sid,
        mapping_sid=mapping_sid,
        local_address=local,
        remote_address=remote,
        space_id=None,
        date_created=now,
        date_updated=now,
    )
    if await repo.add_conversation(conversation):
        return conversation
    found = await repo.conversation_of(channel, mapping_sid, remote)
    assert found is not None  # the row that beat ours
    return found


async def add_record(
    session: AsyncSession,
    *,
    sid_prefix: str,
    channel: str,
    account_sid: str,
    group_sid: str,
    mapping_sid: str,
    conversation_sid: str | None,
    direction: str,
    with_media: bool,
    from_address: str,
    to_address: str,
    message_sid: str | None,
    chat_message_id: str | None,
    status: str,
    error_code: str | None = None,
    error_message: str | None = None,
) -> ExchangeMessage:
    now = utcnow()
    record = ExchangeMessage(
        sid=new_sid(sid_prefix),
        channel=channel,
        account_sid=account_sid,
        group_sid=group_sid,
        mapping_sid=mapping_sid,
        conversation_sid=conversation_sid,
        direction=direction,
        type="MMS" if with_media else "SMS",
        from_address=from_address,
        to_address=to_address,
        message_sid=message_sid,
        chat_message_id=chat_message_id,
        channel_status=status,
        channel_error_code=error_code,
        channel_error_message=error_message,
        failure_notified=False,
        date_created=now,
        date_updated=now,
    )
    await ExchangeRepository(session).add_record(record)
    return record


def set_status(record: ExchangeMessage, status: str, code: str | None = None, message: str | None = None) -> None:
    record.channel_status = status
    if code is not None or message is not None:
        record.channel_error_code = code
        record.channel_error_message = message
    record.date_updated = utcnow()


async def send_from_mapped_number(
    session: AsyncSession,
    *,
    via: str,
    number: str,
    mapping_account_sid: str,
    remote: str,
    text: str,
    media: list[dict[str, Any]],
) -> tuple[Message | None, BadRequest | None]:
    """A chat user's SMS (or MMS, with ``media``) from the mapped ``number`` to ``remote``, through
    the Messages pipeline (``created_via`` = the channel ``via``): the message, or why it was refused.

    Only a number's owner may send from it, so it goes out (and is billed) as the account that
    owns the number — a CSP may map a number one of its sub-accounts owns. A number that is
    gone falls back to the mapping's account, and the pipeline's refusal (21606) is returned
    for the chat user to see.
    """
    owner = await find_by_phone_number(session, number)
    account = await accounts.get_by_sid(session, owner.account_sid if owner is not None else mapping_account_sid)
    channel = "mms" if media else "sms"
    try:
        draft = build_draft(
            sender=ChannelAddress(channel, number),
            recipient=ChannelAddress(channel, remote),
            body=text,
            media=media,
            status_callback=None,
            status_callback_method=None,
            created_via=via,
            names=TWILIO_API,
        )
        return await send_message(session, account, draft, TWILIO_API), None
    except BadRequest as exc:
        return None, exc


async def release_number(session: AsyncSession, e164: str, mapping_account_sid: str) -> None:
    """Release the number a deleted mapping provisioned (unless it changed hands since)."""
    number = await find_by_phone_number(session, e164)
    if number is not None and number.account_sid == mapping_account_sid:
        await remove_number(session, number)
