"""The Webex → handset half of the bridge: verified webhooks, fetched messages, SMS/MMS out.

Webex POSTs ``messages.created`` to ``/webex/bot/webhook/<account>``; :func:`accept_webhook`
verifies ``X-Spark-Signature`` (hex HMAC-SHA1 of the raw body with the webhook secret;
anything else → 401, nothing stored), drops the bot's own messages and any Webex message id
seen before, and queues ``webex.relay``. :func:`relay` fetches the message (notifications
carry no content) and sends it through the messages pipeline (``send_message``) from the
mapping's number to the handset. See :mod:`message_exchange.webex.bridge` for the mention
rule and the 1:1 space.
"""

from __future__ import annotations

import hmac
import re
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from message_exchange.accounts import service as accounts
from message_exchange.config import Settings
from message_exchange.core.crypto import SecretBox
from message_exchange.core.errors import BadRequest, NotFound, Unauthorized
from message_exchange.core.logging import get_logger
from message_exchange.db.base import utcnow
from message_exchange.exchange import service as exchange
from message_exchange.exchange.models import ChatReceipt, Conversation
from message_exchange.exchange.repository import ExchangeRepository
from message_exchange.jobs.registry import JobContext, RetryLater, job_handler
from message_exchange.jobs.service import enqueue
from message_exchange.numbers.service import normalize_e164
from message_exchange.webex.bot import client_for, public_base
from message_exchange.webex.bridge import load_conversation as _conversation
from message_exchange.webex.bridge import open_space, signature
from message_exchange.webex.client import WebexApiError, WebexClient, WebexThrottled
from message_exchange.webex.models import CHANNEL, SID_PREFIX, Bot, Mapping, Status
from message_exchange.webex.repository import WebexRepository
from message_exchange.webex.service import org_of

log = get_logger("mx.webex")

RELAY_JOB = "webex.relay"
SIGNATURE_HEADER = "X-Spark-Signature"
MEDIA_PATH = "/webex/media/"
_NUMBER_WORD = re.compile(r"\+?[0-9().-]+")
MAX_NUMBER_WORDS = 6


async def accept_webhook(
    session: AsyncSession, box: SecretBox, account_sid: str, body: bytes, sent: str | None
) -> bool:
    """Verify and queue one webhook notification; False when it is ignored (not an error)."""
    bot = await WebexRepository(session).bot(account_sid)
    if bot is None or not sent:
        raise Unauthorized("Invalid or missing X-Spark-Signature")
    expected = signature(box.decrypt(bot.webhook_secret_encrypted), body)
    # As bytes: compare_digest refuses non-ASCII str, and a header may carry anything.
    if not hmac.compare_digest(expected.encode(), sent.strip().lower().encode("utf-8", "surrogateescape")):
        raise Unauthorized("Invalid or missing X-Spark-Signature")
    try:
        event = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadRequest("Webhook body is not JSON") from None
    data = event.get("data") if isinstance(event, dict) else None
    if not isinstance(data, dict) or event.get("resource") != "messages" or event.get("event") != "created":
        return False
    message_id, person_id = data.get("id"), data.get("personId")
    if not isinstance(message_id, str) or not message_id or len(message_id) > 255:
        return False
    if person_id == bot.person_id:
        return False  # the bot's own post
    if not await ExchangeRepository(session).add_receipt(
        ChatReceipt(channel=CHANNEL, chat_message_id=message_id, received_at=utcnow())
    ):
        log.info("duplicate webex message ignored", message_id=message_id)
        return False
    await enqueue(session, RELAY_JOB, {"account": account_sid, "id": message_id})
    return True


def _is_mapped(mapping: Mapping, message: dict[str, Any]) -> bool:
    who = {str(message.get("personId") or ""), str(message.get("personEmail") or "").lower()}
    return any(address in who for address in mapping.webex_addresses)


def strip_mention(text: str, bot: Bot) -> str:
    """The text without the @mention of the bot at its start or end.

    Webex writes a mention into ``text`` as the display name (or the first name, when the
    user shortened it); a mention in the middle of a sentence is part of the sentence.
    """
    stripped = text.strip()
    for name in (bot.display_name, bot.display_name.split(" ")[0] if bot.display_name else ""):
        if not name:
            continue
        if stripped.lower().startswith(name.lower()):
            return stripped[len(name) :].lstrip(" ,:")
        if stripped.lower().endswith(name.lower()):
            return stripped[: -len(name)].rstrip(" ,:")
    return stripped


def split_number(text: str) -> tuple[str, str] | None:
    """``+1 (555) 123-4567 see you`` → (``+15551234567``, ``see you``): the longest leading run of
    number-like words that is a phone number, then the rest; None when the text starts otherwise."""
    words = text.split()
    for count in range(min(len(words), MAX_NUMBER_WORDS), 0, -1):
        head = words[:count]
        if not all(_NUMBER_WORD.fullmatch(word) for word in head):
            continue
        candidate = "".join(head)
        try:
            number = normalize_e164(candidate if candidate.startswith("+") else f"+{candidate}")
        except BadRequest:
            continue
        rest = re.match(r"\s*" + r"\s+".join(map(re.escape, head)), text)
        assert rest is not None
        return number, text[rest.end() :].strip()
    return None


def media_url(box: SecretBox, bot: Bot, settings: Settings, file_url: str) -> str:
    return f"{public_base(bot, settings)}{MEDIA_PATH}{bot.account_sid}/{box.encrypt(file_url)}"


@job_handler(RELAY_JOB)
async def relay(ctx: JobContext, payload: dict[str, Any]) -> None:
    session = ctx.session
    bot = await WebexRepository(session).bot(payload["account"])
    if bot is None:
        return
    box = SecretBox(ctx.settings.fernet_key)
    try:
        async with client_for(bot, box, ctx.settings) as webex:
            try:
                message = await webex.get_message(payload["id"])
            except WebexApiError as exc:
                if exc.status in (403, 404):
                    log.info("webex message not visible to the bot", message_id=payload["id"])
                    return
                raise
            if message.get("personId") == bot.person_id:
                return
            relayer = _Relayer(session, webex, bot, box, ctx.settings, message)
            if message.get("roomType") == "direct":
                await relayer.from_direct()
            else:
                await relayer.from_space()
    except WebexThrottled as exc:
        raise RetryLater(exc.retry_after, "webex throttled") from None


class _Relayer:
    """One user message from Webex on its way to a handset."""

    def __init__(
        self,
        session: AsyncSession,
        webex: WebexClient,
        bot: Bot,
        box: SecretBox,
        settings: Settings,
        message: dict[str, Any],
    ) -> None:
        self.session = session
        self.webex = webex
        self.bot = bot
        self.box = box
        self.settings = settings
        self.message = message
        self.room_id = str(message.get("roomId") or "")

    async def notice(self, text: str, room_id: str | None = None) -> None:
        await self.webex.post_message(room_id or self.room_id, text=text)

    async def from_space(self) -> None:
        conversation = await ExchangeRepository(self.session).conversation_in_space(CHANNEL, self.room_id)
        if conversation is None:
            return  # a space the bot was added to by someone else: not a conversation
        mapping = await WebexRepository(self.session).any_mapping(conversation.mapping_sid)
        if mapping is None or mapping.status != Status.ACTIVE.value:
            await self.notice("This number's mapping was removed: messages are no longer sent as SMS.")
            return
        if not _is_mapped(mapping, self.message):
            log.info("message from a user who is not mapped", room_id=self.room_id)
            return
        text = strip_mention(str(self.message.get("text") or ""), self.bot)
        await self.send(mapping, conversation, text)

    async def from_direct(self) -> None:
        parsed = split_number(str(self.message.get("text") or ""))
        if parsed is None:
            await self.notice("To text someone, write their number first, with its country code: +15551234567 hello")
            return
        remote, text = parsed
        mapping = await self._mapping_of_sender()
        if mapping is None:
            return
        conversation = await exchange.conversation_for(
            self.session,
            channel=CHANNEL,
            account_sid=mapping.account_sid,
            mapping_sid=mapping.sid,
            local=mapping.external_address,
            remote=remote,
        )
        locked = await _conversation(self.session, conversation.sid, lock=True)
        assert locked is not None
        space = locked.space_id or await open_space(self.webex, locked, mapping, self.bot)
        if await self.send(mapping, locked, text):
            await self.notice(f"Sent to {remote}. The conversation continues in the space “{remote}”.")
            await self.notice(f"{self.message.get('personEmail') or 'A user'} (1:1): {text}", space)

    async def _mapping_of_sender(self) -> Mapping | None:
        email = str(self.message.get("personEmail") or "").lower()
        person_id = str(self.message.get("personId") or "")
        try:
            owner = await accounts.get_by_sid(self.session, self.bot.account_sid)
        except NotFound:
            return None
        repo = WebexRepository(self.session)
        candidates = [
            mapping
            for address in {email, person_id} - {""}
            for mapping in await repo.live_mappings_of_org(org_of(owner), address)
            if _is_mapped(mapping, self.message)
        ]
        unique = {mapping.sid: mapping for mapping in candidates}
        personal = [m for m in unique.values() if len(m.webex_addresses) == 1]
        if len(personal) == 1:
            return personal[0]
        if len(unique) == 1:
            return next(iter(unique.values()))
        if not unique:
            await self.notice("You have no phone number mapped to you; ask your administrator.")
        else:
            await self.notice("You share several numbers: answer in the conversation's space instead.")
        return None

    async def send(self, mapping: Mapping, conversation: Conversation, text: str) -> bool:
        """SMS/MMS ``text`` (+ the message's files) to the handset; record it; True when queued."""
        files = [str(url) for url in self.message.get("files") or [] if isinstance(url, str)]
        if not text.strip() and not files:
            return False
        media = [{"url": media_url(self.box, self.bot, self.settings, url), "content_type": None} for url in files]
        sms, problem = await exchange.send_from_mapped_number(
            self.session,
            via=CHANNEL,
            number=mapping.external_address,
            mapping_account_sid=mapping.account_sid,
            remote=conversation.remote_address,
            text=text.strip(),
            media=media,
        )
        record = await exchange.add_record(
            self.session,
            sid_prefix=SID_PREFIX,
            channel=CHANNEL,
            account_sid=mapping.account_sid,
            group_sid=mapping.enterprise_sid,
            mapping_sid=mapping.sid,
            conversation_sid=conversation.sid,
            direction=exchange.OUTBOUND,
            with_media=bool(files),
            from_address=mapping.external_address,
            to_address=conversation.remote_address,
            message_sid=sms.sid if sms else None,
            chat_message_id=str(self.message.get("id") or ""),
            status=sms.status if sms else exchange.FAILED,
            error_code=str(problem.code) if problem else None,
            error_message=problem.message if problem else None,
        )
        if problem is not None:
            record.failure_notified = True
            await self.notice(f"⚠ Not sent to {conversation.remote_address}: {problem.message}", conversation.space_id)
            return False
        return True
