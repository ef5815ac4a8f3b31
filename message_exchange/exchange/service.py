"""Conversations and message records, for any channel. Never commits; knows no HTTP.

A conversation is (channel, mapping, remote handset): every message between that mapping's
chat user(s) and that handset, in one chat space.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from message_exchange.core.sids import new_sid
from message_exchange.db.base import utcnow
from message_exchange.exchange.models import CONVERSATION_PREFIX, Conversation, ExchangeMessage
from message_exchange.exchange.repository import ExchangeRepository

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
