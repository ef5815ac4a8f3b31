"""The Teams bridge, handset → Teams: SMS/MMS shown in the mapped user's 1:1 chat with the bot.

An inbound SMS/MMS to a live mapping's number is taken from the inbound router
(:meth:`TeamsChannel.route_inbound`): an OUTBOUND record (the document's examples call the
SMS → Teams leg OUTBOUND and Teams → SMS INBOUND) is stored and a ``msteams.post`` job
posts it. The post goes to the user's 1:1 conversation with the bot, created with
``POST /v3/conversations`` when the bridge has none yet (Teams creates 1:1 conversations
only, and only with users who have the bot installed). It is an Adaptive Card: the
sender's number, the text, the media (images shown, other files linked), a reply box and a
**Reply** button (``Action.Submit`` carrying the conversation sid, so the answer goes back
to that number — see :mod:`message_exchange.msteams.relay`).

Posts keep the SMS order (a post waits while an older message of its conversation is still
queued). Bot Connector 429/5xx are retried (briefly in the client, then by the job with
backoff); other refusals mark the record failed with Microsoft's status and message.

A mapping of an INACTIVE business customer refuses SMS (the record is kept, failed,
``inactive``); a deleted mapping's number is no longer routed here.
"""

from __future__ import annotations

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
from message_exchange.jobs.service import enqueue, enqueue_many
from message_exchange.messages.models import Message
from message_exchange.messages.repository import MessageRepository
from message_exchange.msteams.auth import service_host_allowed
from message_exchange.msteams.client import MicrosoftClient, TeamsApiError, TeamsThrottled
from message_exchange.msteams.models import (
    CHANNEL,
    MESSAGE_PREFIX,
    BotDetails,
    BusinessCustomer,
    EnterpriseStatus,
    MappingStatus,
    TeamsMapping,
)
from message_exchange.msteams.repository import TeamsRepository
from message_exchange.msteams.service import NOTICE_JOB

log = get_logger("mx.msteams")

POST_JOB = "msteams.post"
ORDER_WAIT_SECONDS = 0.5
POST_ATTEMPTS = 60
# The document's examples: Teams → SMS is INBOUND, SMS → Teams is OUTBOUND.
TO_SMS = exchange.INBOUND
TO_TEAMS = exchange.OUTBOUND

NO_BOT = ("no_bot", "The business customer has no bot details")
MAPPING_GONE = ("mapping_deleted", "The mapping was deleted")
INACTIVE = ("inactive", "The business customer is INACTIVE")
BAD_SERVICE_URL = ("service_url", "The Bot Connector service URL is not allowed")
ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
REPLY_KEY = "mxConversation"
REPLY_TEXT = "replyText"
_IMAGE = ("image/",)


class ConnectorRefused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def reply_card(remote: str, body: str, media: list[dict[str, Any]], conversation_sid: str) -> dict[str, Any]:
    """The Adaptive Card showing one SMS/MMS, with a reply box and a Reply button."""
    elements: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": f"SMS from {remote}", "weight": "Bolder", "wrap": True},
    ]
    if body:
        elements.append({"type": "TextBlock", "text": body, "wrap": True})
    for item in media:
        url = str(item.get("url") or "")
        content_type = str(item.get("content_type") or "")
        if content_type.startswith(_IMAGE) or (
            not content_type and url.lower().endswith((".png", ".jpg", ".jpeg", ".gif"))
        ):
            elements.append({"type": "Image", "url": url, "altText": "picture", "size": "Large"})
        else:
            elements.append({"type": "TextBlock", "text": f"[attachment]({url})", "wrap": True})
    elements.append(
        {"type": "Input.Text", "id": REPLY_TEXT, "placeholder": f"Reply to {remote} by SMS", "isMultiline": True}
    )
    return {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.4",
        "body": elements,
        "actions": [{"type": "Action.Submit", "title": "Reply", "data": {REPLY_KEY: conversation_sid}}],
    }


def card_activity(remote: str, body: str, media: list[dict[str, Any]], conversation_sid: str) -> dict[str, Any]:
    return {
        "type": "message",
        "summary": f"SMS from {remote}: {body}"[:200],
        "attachments": [{"contentType": ADAPTIVE_CARD, "content": reply_card(remote, body, media, conversation_sid)}],
    }


def text_activity(text: str) -> dict[str, Any]:
    return {"type": "message", "textFormat": "plain", "text": text}


async def connector_token(ms: MicrosoftClient, bot: BotDetails, box: SecretBox) -> str:
    return await ms.connector_token(bot.application_id, box.decrypt(bot.client_secret_encrypted), bot.tenant_id)


async def user_conversation(
    ms: MicrosoftClient, token: str, bot: BotDetails, mapping: TeamsMapping, settings: Settings
) -> tuple[str, str]:
    """(service URL, conversation id) of the mapped user's 1:1 chat with the bot, created when needed."""
    if mapping.teams_conversation_id and mapping.service_url:
        return mapping.service_url, mapping.teams_conversation_id
    service_url = bot.service_url or settings.msteams_default_service_url
    if not service_host_allowed(service_url, settings):
        raise ConnectorRefused(*BAD_SERVICE_URL)
    if not mapping.aad_object_id:
        raise ConnectorRefused("no_user", "The mapped Teams user is not known")
    conversation_id = await ms.create_conversation(
        service_url, token, bot_id=bot.application_id, tenant_id=bot.tenant_id, member_id=mapping.aad_object_id
    )
    mapping.teams_conversation_id = conversation_id
    mapping.service_url = service_url
    return service_url, conversation_id


async def post_to_user(
    session: AsyncSession,
    settings: Settings,
    bot: BotDetails,
    mapping: TeamsMapping,
    activity: dict[str, Any],
) -> str:
    """Post ``activity`` to the mapped user's 1:1 chat; the activity id Teams gave it."""
    box = SecretBox(settings.fernet_key)
    async with MicrosoftClient(settings) as ms:
        token = await connector_token(ms, bot, box)
        service_url, conversation_id = await user_conversation(ms, token, bot, mapping, settings)
        try:
            posted = await ms.send_activity(service_url, token, conversation_id, activity)
        except TeamsApiError as exc:
            if exc.status in (403, 404):
                # The user removed the bot (or the conversation is gone): open it again next time.
                mapping.teams_conversation_id = None
                mapping.service_url = None
            raise
    return str(posted.get("id") or "")


async def _live(session: AsyncSession, mapping_sid: str) -> tuple[TeamsMapping | None, BusinessCustomer | None]:
    repo = TeamsRepository(session)
    mapping = await repo.mapping(mapping_sid)
    enterprise = await repo.enterprise(mapping.enterprise_sid) if mapping is not None else None
    return mapping, enterprise


class TeamsChannel:
    name = CHANNEL

    async def route_inbound(self, session: AsyncSession, message: Message, settings: Settings) -> bool:
        repo = TeamsRepository(session)
        mapping = await repo.mapping_of_number(message.to_address)
        if mapping is None:
            return False
        enterprise = await repo.enterprise(mapping.enterprise_sid)
        conversation = await exchange.conversation_for(
            session,
            channel=CHANNEL,
            account_sid=mapping.account_sid,
            mapping_sid=mapping.sid,
            local=mapping.external_address,
            remote=message.from_address,
        )
        active = enterprise is not None and enterprise.status == EnterpriseStatus.ACTIVE.value
        record = await exchange.add_record(
            session,
            sid_prefix=MESSAGE_PREFIX,
            channel=CHANNEL,
            account_sid=mapping.account_sid,
            group_sid=mapping.enterprise_sid,
            mapping_sid=mapping.sid,
            conversation_sid=conversation.sid,
            direction=TO_TEAMS,
            with_media=bool(message.media),
            from_address=message.from_address,
            to_address=mapping.microsoft_address,
            message_sid=message.sid,
            chat_message_id=None,
            status=exchange.QUEUED if active else exchange.FAILED,
            error_code=None if active else INACTIVE[0],
            error_message=None if active else INACTIVE[1],
        )
        if active:
            await enqueue(session, POST_JOB, {"record": record.sid}, max_attempts=POST_ATTEMPTS)
        return True  # an INACTIVE customer's number refuses the SMS: it goes nowhere else either

    async def report_failure(self, session: AsyncSession, record: ExchangeMessage, settings: Settings) -> None:
        if record.direction != TO_SMS:
            return
        mapping = await TeamsRepository(session).mapping(record.mapping_sid)
        bot = await TeamsRepository(session).bot_of(mapping.enterprise_sid) if mapping is not None else None
        if mapping is None or bot is None or not mapping.teams_conversation_id:
            return
        reason = record.channel_error_message or record.channel_status
        code = f" (error {record.channel_error_code})" if record.channel_error_code else ""
        text = f"⚠ Not delivered to {record.to_address}: {reason}{code}"
        try:
            await post_to_user(session, settings, bot, mapping, text_activity(text))
        except TeamsThrottled as exc:
            raise RetryLater(exc.retry_after, "bot connector throttled") from None
        except (TeamsApiError, ConnectorRefused) as exc:
            if isinstance(exc, TeamsApiError) and exc.retryable:
                raise
            log.warning("failure notice not posted", record_sid=record.sid, error=str(exc))


CHANNEL_IMPL = TeamsChannel()
register_channel(CHANNEL_IMPL)


async def _conversation(session: AsyncSession, sid: str | None) -> Conversation | None:
    return await ExchangeRepository(session).conversation(sid, for_update=True) if sid else None


@job_handler(POST_JOB)
async def post_inbound(ctx: JobContext, payload: dict[str, Any]) -> None:
    session = ctx.session
    repo = ExchangeRepository(session)
    record = await repo.record(payload["record"])
    if record is None or record.channel_status != exchange.QUEUED:
        return  # posted already: a repeated job must not post twice
    if not ctx.is_last_attempt and await repo.waits_behind(record):
        raise RetryLater(ORDER_WAIT_SECONDS, "an older message of the conversation is not posted yet")
    mapping, enterprise = await _live(session, record.mapping_sid)
    message = await MessageRepository(session).get(record.message_sid or "")
    if mapping is None or mapping.status != MappingStatus.ACTIVE.value or message is None:
        exchange.set_status(record, exchange.FAILED, *MAPPING_GONE)
        return
    if enterprise is None or enterprise.status != EnterpriseStatus.ACTIVE.value:
        exchange.set_status(record, exchange.FAILED, *INACTIVE)
        return
    bot = await TeamsRepository(session).bot_of(enterprise.sid)
    if bot is None:
        exchange.set_status(record, exchange.FAILED, *NO_BOT)
        return
    conversation = await _conversation(session, record.conversation_sid)
    assert conversation is not None
    activity = card_activity(conversation.remote_address, message.body, list(message.media), conversation.sid)
    try:
        posted = await post_to_user(session, ctx.settings, bot, mapping, activity)
    except TeamsThrottled as exc:
        raise RetryLater(exc.retry_after, "bot connector throttled") from None
    except ConnectorRefused as exc:
        exchange.set_status(record, exchange.FAILED, exc.code, exc.message)
        return
    except TeamsApiError as exc:
        if exc.retryable and not ctx.is_last_attempt:
            raise
        exchange.set_status(record, exchange.FAILED, str(exc.status or "network"), exc.message)
        return
    now = utcnow()
    record.chat_message_id = posted or None
    exchange.set_status(record, exchange.DELIVERED)
    mapping.last_conversation_sid = conversation.sid
    conversation.date_updated = now


NOTICE_USER_JOB = "msteams.notice_user"


@job_handler(NOTICE_JOB)
async def notify_users(ctx: JobContext, payload: dict[str, Any]) -> None:
    """A business customer's status changed: one notice job per mapped user (the given mappings, or the live ones)."""
    given = payload.get("mappings")
    if isinstance(given, list):
        sids = [str(sid) for sid in given]
    else:
        sids = [mapping.sid for mapping in await TeamsRepository(ctx.session).live_mappings(payload["enterprise"])]
    if sids:
        await enqueue_many(
            ctx.session,
            NOTICE_USER_JOB,
            [{"enterprise": payload["enterprise"], "mapping": sid, "text": payload["text"]} for sid in sids],
        )


@job_handler(NOTICE_USER_JOB)
async def notify_user(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Tell one mapped user (who has a chat with the bot) about their business customer's status change."""
    session = ctx.session
    repo = TeamsRepository(session)
    mapping = await repo.mapping(payload["mapping"])
    bot = await repo.bot_of(payload["enterprise"])
    if mapping is None or bot is None or not mapping.teams_conversation_id:
        return  # a user who never chatted with the bot learns it on their first message
    try:
        await post_to_user(session, ctx.settings, bot, mapping, text_activity(str(payload["text"])))
    except TeamsThrottled as exc:
        raise RetryLater(exc.retry_after, "bot connector throttled") from None
    except (TeamsApiError, ConnectorRefused) as exc:
        if isinstance(exc, TeamsApiError) and exc.retryable and not ctx.is_last_attempt:
            raise
        log.warning("status notice not posted", mapping_sid=mapping.sid, error=str(exc))
