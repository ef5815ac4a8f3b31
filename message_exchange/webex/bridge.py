"""The Webex bridge: SMS/MMS ⇄ Webex spaces, one space per conversation (mapping, handset).

Handset → Webex. An inbound SMS/MMS to a live mapping's externalAddress is taken from the
inbound router (:meth:`WebexChannel.route_inbound`): an INBOUND record is stored and a
``webex.post`` job posts it — into the conversation's space, created on the first message
(titled with the handset's number, with the bot and every mapped user as members, and an
intro saying how to answer). The text is one message; each media item follows as its own
file message, in order (Webex takes one file per message). Posts keep the order the SMS
arrived in: a post waits while an older message of its conversation is still queued (which
also means only the first message of a conversation creates its space).

Webex → handset. Webex POSTs ``messages.created`` to ``/webex/bot/webhook/<account>``;
:func:`~message_exchange.webex.relay.accept_webhook` verifies ``X-Spark-Signature`` (hex HMAC-SHA1 of the raw body with
the webhook secret; anything else → 401, nothing stored), drops the bot's own messages,
drops a Webex message id seen before, and queues ``webex.relay``. The relay fetches the
message (webhooks carry no content), and sends it through the messages pipeline
(``send_message``) from the externalAddress to the handset; Webex files become MMS media,
served to the carrier through ``/webex/media/…`` links (Webex file URLs need the bot's
token). Delivery failures are posted back into the space
(:meth:`WebexChannel.report_failure`).

The mention rule. Webex tells a bot about a message in a group space only when the message
@mentions the bot, and conversation spaces are group spaces. So in a conversation space a
user @mentions the bot to send (``@SMS Bot see you at 5``); the mention is stripped from the
SMS. Messages without it stay in the space — for a group mapping, a place to agree on an
answer before sending it. The intro message of every space says so. In the user's 1:1
space with the bot no mention is needed: ``+15551234567 hello`` texts that number and opens
(or reuses) the conversation's space.

Webex calls are at-least-once: a job that fails after Webex took a post (or created a
space) and before its transaction commits repeats that call when it runs again.

Deleting a mapping stops both directions: inbound SMS to its number is not taken (no Webex
post), and mentions in its spaces get a notice instead of an SMS.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from message_exchange.config import Settings
from message_exchange.core.crypto import SecretBox
from message_exchange.core.logging import get_logger
from message_exchange.db.base import utcnow
from message_exchange.exchange import service as exchange
from message_exchange.exchange.channels import register_channel
from message_exchange.exchange.models import Conversation, ExchangeMessage
from message_exchange.exchange.repository import ExchangeRepository
from message_exchange.jobs.registry import JobContext, RetryLater, job_handler
from message_exchange.jobs.service import enqueue
from message_exchange.messages.models import Message
from message_exchange.messages.repository import MessageRepository
from message_exchange.webex.bot import bot_for_account, client_for
from message_exchange.webex.client import WebexApiError, WebexClient, WebexThrottled
from message_exchange.webex.models import CHANNEL, SID_PREFIX, Bot, Mapping, Status
from message_exchange.webex.repository import WebexRepository

log = get_logger("mx.webex")

POST_JOB = "webex.post"
# A post waits for older posts of its conversation, up to this many tries a second apart.
ORDER_WAIT_SECONDS = 0.5
POST_ATTEMPTS = 60

NO_BOT = ("no_bot", "No Webex bot is configured for this account")
MAPPING_GONE = ("mapping_deleted", "The mapping was deleted")


def signature(secret: str, body: bytes) -> str:
    """Webex's ``X-Spark-Signature``: hex HMAC-SHA1 of the raw body, keyed with the webhook secret."""
    return hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def intro_text(remote: str, bot: Bot) -> str:
    name = bot.display_name or "the bot"
    return (
        f"Text conversation with {remote}. Their messages appear here. To answer by SMS, mention "
        f"@{name} in your message; messages without the mention stay in this space."
    )


# Handset → Webex


class WebexChannel:
    name = CHANNEL

    async def route_inbound(self, session: AsyncSession, message: Message, settings: Settings) -> bool:
        mapping = await WebexRepository(session).mapping_of_number(message.to_address)
        if mapping is None:
            return False
        conversation = await exchange.conversation_for(
            session,
            channel=CHANNEL,
            account_sid=mapping.account_sid,
            mapping_sid=mapping.sid,
            local=mapping.external_address,
            remote=message.from_address,
        )
        record = await exchange.add_record(
            session,
            sid_prefix=SID_PREFIX,
            channel=CHANNEL,
            account_sid=mapping.account_sid,
            group_sid=mapping.enterprise_sid,
            mapping_sid=mapping.sid,
            conversation_sid=conversation.sid,
            direction=exchange.INBOUND,
            with_media=bool(message.media),
            from_address=message.from_address,
            to_address=mapping.webex_address,
            message_sid=message.sid,
            chat_message_id=None,
            status=exchange.QUEUED,
        )
        await enqueue(session, POST_JOB, {"record": record.sid}, max_attempts=POST_ATTEMPTS)
        return True

    async def report_failure(self, session: AsyncSession, record: ExchangeMessage, settings: Settings) -> None:
        conversation = await load_conversation(session, record.conversation_sid)
        bot = await bot_for_account(session, record.account_sid)
        if conversation is None or conversation.space_id is None or bot is None:
            return
        reason = record.channel_error_message or record.channel_status
        code = f" (error {record.channel_error_code})" if record.channel_error_code else ""
        text = f"⚠ Not delivered to {conversation.remote_address}: {reason}{code}"
        try:
            async with client_for(bot, SecretBox(settings.fernet_key), settings) as webex:
                await webex.post_message(conversation.space_id, text=text)
        except WebexThrottled as exc:
            raise RetryLater(exc.retry_after, "webex throttled") from None
        except WebexApiError as exc:
            if exc.retryable:
                raise
            log.warning("failure notice not posted", record_sid=record.sid, error=exc.message)


CHANNEL_IMPL = WebexChannel()
register_channel(CHANNEL_IMPL)


async def load_conversation(session: AsyncSession, sid: str | None, *, lock: bool = False) -> Conversation | None:
    return await ExchangeRepository(session).conversation(sid, for_update=lock) if sid else None


async def open_space(webex: WebexClient, conversation: Conversation, mapping: Mapping, bot: Bot) -> str:
    """Create the conversation's space (bot + mapped users), post the intro; its room id."""
    room = await webex.create_room(conversation.remote_address)
    room_id = str(room["id"])
    for person in mapping.webex_addresses:
        await webex.add_member(room_id, person)
    await webex.post_message(room_id, text=intro_text(conversation.remote_address, bot))
    conversation.space_id = room_id
    conversation.date_updated = utcnow()
    return room_id


@job_handler(POST_JOB)
async def post_inbound(ctx: JobContext, payload: dict[str, Any]) -> None:
    session = ctx.session
    record = await ExchangeRepository(session).record(payload["record"])
    if record is None or record.channel_status != exchange.QUEUED:
        return  # posted already: a repeated job must not post twice
    if not ctx.is_last_attempt and await ExchangeRepository(session).waits_behind(record):
        # Posts keep the SMS order: an older message of this conversation goes first (and makes the space).
        raise RetryLater(ORDER_WAIT_SECONDS, "an older message of the conversation is not posted yet")
    mapping = await WebexRepository(session).any_mapping(record.mapping_sid)
    message = await MessageRepository(session).get(record.message_sid or "")
    if mapping is None or mapping.status != Status.ACTIVE.value or message is None:
        exchange.set_status(record, exchange.FAILED, *MAPPING_GONE)
        return
    bot = await bot_for_account(session, mapping.account_sid)
    if bot is None:
        exchange.set_status(record, exchange.FAILED, *NO_BOT)
        return
    conversation = await load_conversation(session, record.conversation_sid, lock=True)
    assert conversation is not None
    try:
        async with client_for(bot, SecretBox(ctx.settings.fernet_key), ctx.settings) as webex:
            space = conversation.space_id or await open_space(webex, conversation, mapping, bot)
            posted: list[str] = []
            if message.body:
                posted.append(str((await webex.post_message(space, text=message.body))["id"]))
            for item in message.media:
                posted.append(str((await webex.post_message(space, file_url=item["url"]))["id"]))
    except WebexThrottled as exc:
        raise RetryLater(exc.retry_after, "webex throttled") from None
    except WebexApiError as exc:
        if exc.retryable and not ctx.is_last_attempt:
            raise
        exchange.set_status(record, exchange.FAILED, str(exc.status or "network"), exc.message)
        return
    record.chat_message_id = posted[0] if posted else None
    exchange.set_status(record, exchange.DELIVERED)
