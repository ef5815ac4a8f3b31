"""The Teams bridge, Teams → handset: verified activities, SMS/MMS out.

The bot's messaging endpoint is ``POST /msteams/api/messages/{EnterpriseSid}`` (set it as
the Azure bot's messaging endpoint). :func:`accept_activity` verifies the request's JWT
(:mod:`message_exchange.msteams.auth`, audience = that business customer's applicationId;
anything wrong → 401, nothing stored), drops an activity id seen before, and queues
``msteams.activity``; the endpoint answers at once and the job does the rest.

Which number a user's message goes to:

1. **Reply** on a card (``Action.Submit``: the activity's ``value`` carries the
   conversation and the text typed in the card's box) → that card's sender;
2. ``/to +15551234567 text`` → that number (a new conversation if there was none), from
   the user's mapped number (the oldest, when the user has several);
3. anything else → the conversation the user last used (last SMS shown or sent).

``help`` (or a message with no conversation to go to) gets these rules as the answer.
Files the user attached are downloaded at once and sent as MMS media, served to the
carrier from ``/msteams/media/<sid>``. An INACTIVE business customer's users get a notice
instead of an SMS; delivery failures come back as a message in the chat
(:meth:`~message_exchange.msteams.bridge.TeamsChannel.report_failure`).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from message_exchange.config import Settings
from message_exchange.core.crypto import SecretBox
from message_exchange.core.errors import BadRequest, Unauthorized
from message_exchange.core.logging import get_logger
from message_exchange.core.sids import new_sid
from message_exchange.db.base import utcnow
from message_exchange.exchange import service as exchange
from message_exchange.exchange.models import ChatReceipt, Conversation
from message_exchange.exchange.repository import ExchangeRepository
from message_exchange.jobs.registry import JobContext, RetryLater, job_handler
from message_exchange.jobs.service import enqueue
from message_exchange.msteams.auth import service_host_allowed, verify_request
from message_exchange.msteams.bridge import (
    REPLY_KEY,
    REPLY_TEXT,
    TO_SMS,
    connector_token,
    text_activity,
)
from message_exchange.msteams.client import (
    MAX_DOWNLOAD,
    MicrosoftClient,
    TeamsApiError,
    TeamsFileTooLarge,
    TeamsThrottled,
)
from message_exchange.msteams.models import (
    CHANNEL,
    ENTERPRISE_PREFIX,
    MEDIA_PREFIX,
    MESSAGE_PREFIX,
    BotDetails,
    EnterpriseStatus,
    TeamsMapping,
    TeamsMedia,
)
from message_exchange.msteams.repository import TeamsRepository
from message_exchange.msteams.service import CLOSED_NOTICE, INACTIVE_NOTICE
from message_exchange.webex.relay import split_number

log = get_logger("mx.msteams")

ACTIVITY_JOB = "msteams.activity"
MEDIA_PATH = "/msteams/media/"
FILE_DOWNLOAD = "application/vnd.microsoft.teams.file.download.info"
MAX_ATTACHMENTS = 10
_TAG = re.compile(r"<[^>]+>")
_TO = re.compile(r"/to(\s|$)", re.IGNORECASE)
HELP = (
    "To text someone: reply on the card of their message, or write /to +15551234567 your message. "
    "Anything else you write goes to the number you last texted with."
)
NOT_MAPPED = "No phone number is mapped to you; ask your administrator."


async def accept_activity(
    session: AsyncSession,
    settings: Settings,
    enterprise_sid: str,
    authorization: str | None,
    body: bytes,
    public_base: str,
) -> bool:
    """Verify one Bot Framework request and queue its activity; False when it is ignored (not an error)."""
    repo = TeamsRepository(session)
    enterprise = await repo.enterprise(enterprise_sid) if enterprise_sid.startswith(ENTERPRISE_PREFIX) else None
    bot = await repo.bot_of(enterprise.sid) if enterprise is not None else None
    if bot is None:
        raise Unauthorized("Bot Framework token rejected: unknown bot", headers={"WWW-Authenticate": "Bearer"})
    try:
        activity = orjson.loads(body)
    except orjson.JSONDecodeError:
        activity = None
    if not isinstance(activity, dict):
        activity = {}
    await verify_request(authorization, activity, app_id=bot.application_id, settings=settings)
    if not activity:
        raise BadRequest("The request body is not an activity")
    activity_id = activity.get("id")
    if activity.get("type") not in ("message", "conversationUpdate", "installationUpdate"):
        return False
    if isinstance(activity_id, str) and activity_id:
        receipt = ChatReceipt(
            channel=CHANNEL, chat_message_id=f"{bot.application_id}:{activity_id}"[:255], received_at=utcnow()
        )
        if not await ExchangeRepository(session).add_receipt(receipt):
            log.info("duplicate teams activity ignored", activity_id=activity_id)
            return False
    await enqueue(session, ACTIVITY_JOB, {"enterprise": enterprise_sid, "activity": activity, "base": public_base})
    return True


def plain_text(text: str) -> str:
    """Teams may send HTML (``<p>``, ``<at>``): the text a person would read."""
    if "<" not in text:
        return text.strip()
    spaced = re.sub(r"(?i)<br\s*/?>|</p>", "\n", text)
    return html.unescape(_TAG.sub("", spaced)).strip()


@dataclass(frozen=True, slots=True)
class Target:
    mapping: TeamsMapping
    remote: str
    text: str


@job_handler(ACTIVITY_JOB)
async def handle_activity(ctx: JobContext, payload: dict[str, Any]) -> None:
    session = ctx.session
    repo = TeamsRepository(session)
    enterprise = await repo.enterprise(payload["enterprise"])
    bot = await repo.bot_of(payload["enterprise"]) if enterprise is not None else None
    activity: dict[str, Any] = payload["activity"]
    if enterprise is None or bot is None:
        return
    service_url = str(activity.get("serviceUrl") or "")
    conversation = activity.get("conversation")
    sender = activity.get("from")
    if not isinstance(conversation, dict) or not isinstance(sender, dict):
        return
    if not service_host_allowed(service_url, ctx.settings):
        return
    if bot.service_url != service_url:
        bot.service_url = service_url
    if conversation.get("conversationType", "personal") != "personal":
        return  # the bridge works in 1:1 chats only
    mappings = await repo.mappings_of_user(enterprise.sid, str(sender.get("aadObjectId") or ""))
    conversation_id = str(conversation.get("id") or "") or None
    for mapping in mappings:
        # Written only when it changed: on SQLite a write would hold the lock through the network calls below.
        if (mapping.teams_conversation_id, mapping.service_url) != (conversation_id, service_url):
            mapping.teams_conversation_id = conversation_id
            mapping.service_url = service_url
    if activity.get("type") != "message":
        return
    relayer = _Relayer(session, ctx.settings, bot, activity, payload.get("base") or "")
    try:
        if enterprise.status == EnterpriseStatus.CLOSED.value:
            await relayer.reply(CLOSED_NOTICE)
        elif enterprise.status != EnterpriseStatus.ACTIVE.value:
            await relayer.reply(INACTIVE_NOTICE)
        elif not mappings:
            await relayer.reply(NOT_MAPPED)
        else:
            await relayer.relay(mappings)
    except TeamsThrottled as exc:
        raise RetryLater(exc.retry_after, "bot connector throttled") from None
    except TeamsApiError as exc:
        if exc.retryable and not ctx.is_last_attempt:
            raise  # nothing of this attempt is kept: the job runs again whole
        log.warning("teams activity not answered", activity_id=activity.get("id"), error=exc.message)


class _Relayer:
    """One user message from Teams on its way to a handset."""

    def __init__(
        self, session: AsyncSession, settings: Settings, bot: BotDetails, activity: dict[str, Any], base: str
    ) -> None:
        self.session = session
        self.settings = settings
        self.bot = bot
        self.activity = activity
        self.base = (settings.public_url or base).rstrip("/")
        self.box = SecretBox(settings.fernet_key)
        self.dropped: list[str] = []  # attachments the SMS/MMS goes without, to tell the user

    async def reply(self, text: str) -> None:
        conversation = self.activity.get("conversation") or {}
        async with MicrosoftClient(self.settings) as ms:
            token = await connector_token(ms, self.bot, self.box)
            await ms.send_activity(
                str(self.activity["serviceUrl"]),
                token,
                str(conversation.get("id") or ""),
                {**text_activity(text), "replyToId": self.activity.get("id")},
            )

    async def relay(self, mappings: list[TeamsMapping]) -> None:
        target = await self._target(mappings)
        if target is None:
            return
        media = await self._media(target.mapping)
        if not target.text and not media:
            await self.reply("Write a message (or attach a file) to send." + self._dropped_note(target))
            return
        if await self._send(target, media) and self.dropped:
            await self.reply(f"⚠ Sent to {target.remote} without {'; '.join(self.dropped)}.")

    def _dropped_note(self, target: Target) -> str:
        return f" Nothing was sent to {target.remote}: {'; '.join(self.dropped)}." if self.dropped else ""

    async def _target(self, mappings: list[TeamsMapping]) -> Target | None:
        value = self.activity.get("value")
        text = plain_text(str(self.activity.get("text") or ""))
        exchanges = ExchangeRepository(self.session)
        if isinstance(value, dict) and isinstance(value.get(REPLY_KEY), str):
            found = await exchanges.conversation(value[REPLY_KEY])
            mapping = next((m for m in mappings if found is not None and m.sid == found.mapping_sid), None)
            if found is None or mapping is None:
                await self.reply("That conversation is no longer available: " + HELP)
                return None
            return Target(mapping, found.remote_address, str(value.get(REPLY_TEXT) or "").strip())
        if _TO.match(text):
            parsed = split_number(text[3:].strip())
            if parsed is None:
                await self.reply("Write the number with its country code: /to +15551234567 your message")
                return None
            return Target(mappings[0], parsed[0], parsed[1])
        if text.lower() in ("help", "/help", "?"):
            await self.reply(HELP)
            return None
        last: tuple[Conversation, TeamsMapping] | None = None
        for mapping in mappings:
            found = (
                await exchanges.conversation(mapping.last_conversation_sid) if mapping.last_conversation_sid else None
            )
            if found is not None and (last is None or found.date_updated > last[0].date_updated):
                last = (found, mapping)
        if last is None:
            await self.reply(HELP)
            return None
        return Target(last[1], last[0].remote_address, text)

    def _same_host(self, url: str) -> bool:
        service = urlsplit(str(self.activity.get("serviceUrl") or ""))
        target = urlsplit(url)
        return service_host_allowed(url, self.settings) and (target.scheme, target.hostname, target.port) == (
            service.scheme,
            service.hostname,
            service.port,
        )

    async def _media(self, mapping: TeamsMapping) -> list[dict[str, Any]]:
        """Download the message's files now; their links for the carrier."""
        urls: list[tuple[str, bool, str]] = []  # (URL, with the bot's token, what the user calls it)
        for attachment in self.activity.get("attachments") or []:
            if not isinstance(attachment, dict):
                continue
            label = str(attachment.get("name") or "a picture")[:100]
            content_type = str(attachment.get("contentType") or "")
            content = attachment.get("content")
            download = content.get("downloadUrl") if isinstance(content, dict) else None
            content_url = attachment.get("contentUrl")
            if content_type == FILE_DOWNLOAD and isinstance(download, str):
                urls.append((download, False, label))  # pre-authenticated
            elif content_type.startswith(("image/", "video/", "audio/")) and isinstance(content_url, str):
                # Teams-hosted content (a pasted picture) needs the bot's token. It is only ever given to
                # the host of the activity's serviceUrl (signed into the JWT), never to another host the
                # allow-list's wildcards would also match.
                urls.append((content_url, self._same_host(content_url), label))
        media: list[dict[str, Any]] = []
        if not urls:
            return media
        files: list[tuple[bytes, str]] = []
        async with MicrosoftClient(self.settings) as ms:
            token = await connector_token(ms, self.bot, self.box)
            for url, authorized, label in urls[:MAX_ATTACHMENTS]:
                try:
                    files.append(await ms.download(url, token if authorized else None))
                except TeamsApiError as exc:
                    if exc.retryable:
                        raise
                    log.warning("teams attachment not downloaded", url=url, error=exc.message)
                    too_large = isinstance(exc, TeamsFileTooLarge)
                    why = f"larger than {MAX_DOWNLOAD // 2**20} MB" if too_large else "it could not be downloaded"
                    self.dropped.append(f"{label} ({why})")
        over = urls[MAX_ATTACHMENTS:]
        self.dropped.extend(f"{label} (at most {MAX_ATTACHMENTS} files a message)" for _, _, label in over)
        for content, content_type in files:  # stored after every download: no write waits on the network
            stored = TeamsMedia(
                sid=new_sid(MEDIA_PREFIX),
                account_sid=mapping.account_sid,
                content_type=content_type[:255],
                content=content,
                date_created=utcnow(),
            )
            await TeamsRepository(self.session).add_media(stored)
            media.append({"url": f"{self.base}{MEDIA_PATH}{stored.sid}", "content_type": content_type})
        return media

    async def _send(self, target: Target, media: list[dict[str, Any]]) -> bool:
        """Send the SMS/MMS and record it; False (the user told why) when it was refused at once."""
        mapping = target.mapping
        conversation = await exchange.conversation_for(
            self.session,
            channel=CHANNEL,
            account_sid=mapping.account_sid,
            mapping_sid=mapping.sid,
            local=mapping.external_address,
            remote=target.remote,
        )
        sms, problem = await exchange.send_from_mapped_number(
            self.session,
            via=CHANNEL,
            number=mapping.external_address,
            mapping_account_sid=mapping.account_sid,
            remote=target.remote,
            text=target.text,
            media=media,
        )
        record = await exchange.add_record(
            self.session,
            sid_prefix=MESSAGE_PREFIX,
            channel=CHANNEL,
            account_sid=mapping.account_sid,
            group_sid=mapping.enterprise_sid,
            mapping_sid=mapping.sid,
            conversation_sid=conversation.sid,
            direction=TO_SMS,
            with_media=bool(media),
            from_address=mapping.microsoft_address,
            to_address=target.remote,
            message_sid=sms.sid if sms else None,
            chat_message_id=str(self.activity.get("id") or "") or None,
            status=sms.status if sms else exchange.FAILED,
            error_code=str(problem.code) if problem else None,
            error_message=problem.message if problem else None,
        )
        mapping.last_conversation_sid = conversation.sid
        conversation.date_updated = utcnow()
        if problem is not None:
            record.failure_notified = True
            await self.reply(f"⚠ Not sent to {target.remote}: {problem.message}{self._dropped_note(target)}")
            return False
        return True
