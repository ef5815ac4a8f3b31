"""Webex bot settings of a CSP account: access token and webhook secret (encrypted), the
``messages.created`` webhook registered with that secret, and who the bot is.

Saving checks the token with Webex (``GET /people/me``), replaces any webhook of ours
registered for the same target URL, and registers ``messages.created`` pointing at
``<public URL>/webex/bot/webhook/<account sid>``. Nothing is stored unless Webex took all
of it; :func:`settings_error` says what the caller is answered otherwise (400 / 502 / 503).
Accounts under a CSP use the nearest ancestor's bot (their own first).
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from message_exchange.accounts import service as accounts
from message_exchange.accounts.models import Account
from message_exchange.config import Settings
from message_exchange.core.crypto import SecretBox, mask
from message_exchange.core.dates import webex_timestamp
from message_exchange.core.errors import BadRequest, MXError, NotFound, ServiceUnavailable, UpstreamError
from message_exchange.core.logging import get_logger
from message_exchange.db.base import utcnow
from message_exchange.webex.client import WebexApiError, WebexClient, WebexThrottled
from message_exchange.webex.models import Bot
from message_exchange.webex.repository import WebexRepository

log = get_logger("mx.webex")

WEBHOOK_NAME = "Message Exchange: messages.created"
WEBHOOK_PATH = "/webex/bot/webhook/"
MAX_SECRET = 1024


def client_for(bot: Bot, box: SecretBox, settings: Settings) -> WebexClient:
    return WebexClient(
        settings.webex_api_base_url, box.decrypt(bot.access_token_encrypted), timeout=settings.webex_timeout_seconds
    )


def public_base(bot: Bot, settings: Settings) -> str:
    """Where Webex and carriers reach us: MX_PUBLIC_URL, else what the webhook was registered at."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    return bot.webhook_url.split(WEBHOOK_PATH, 1)[0]


def settings_error(exc: WebexApiError) -> MXError:
    """What saving the bot answers when Webex did not take it (nothing is stored in any case).

    - Webex refused the token (401/403) → 400 naming ``accessToken``; any other 4xx from
      Webex (it refused the webhook, e.g. its ``targetUrl``) → 400 naming ``publicUrl``;
    - Webex throttled us for longer than the client waits → 503 with ``Retry-After``;
    - Webex unreachable, timed out or failing (5xx, an unreadable answer) → 502.
    """
    if isinstance(exc, WebexThrottled):
        return ServiceUnavailable(
            f"Webex is rate limiting this bot; try again in {exc.retry_after:g} seconds",
            headers={"Retry-After": str(max(1, math.ceil(exc.retry_after)))},
        )
    if exc.status in (401, 403):
        return BadRequest(f"Webex rejected the access token: {exc.message}", param="accessToken")
    if exc.status is not None and 400 <= exc.status < 500:
        return BadRequest(f"Webex refused the webhook registration: {exc.message}", param="publicUrl")
    return UpstreamError(f"Webex could not be reached to save the bot settings: {exc.message}")


def _secret(value: str | None, param: str) -> str:
    """A token or secret: printable ASCII without spaces (it travels in an HTTP header or a signature key)."""
    if value is None or not value.strip():
        raise BadRequest(f"{param} is required", param=param)
    text = value.strip()
    if len(text) > MAX_SECRET or not all(33 <= ord(ch) <= 126 for ch in text):
        raise BadRequest(f"{param} must be 1 to {MAX_SECRET} printable ASCII characters", param=param)
    return text


def _public_url(value: str) -> str:
    text = value.strip().rstrip("/")
    if not text.startswith(("http://", "https://")) or " " in text or len(text) > 1024:
        raise BadRequest("publicUrl must be an absolute http(s) URL", param="publicUrl")
    return text


async def _forget_webhook(webex: WebexClient, webhook_id: str) -> None:
    """Delete an old webhook of ours; one already gone (a concurrent save removed it) is fine."""
    try:
        await webex.delete_webhook(webhook_id)
    except WebexApiError as exc:
        if exc.status != 404:
            raise


async def save_bot(
    session: AsyncSession,
    box: SecretBox,
    caller: Account,
    *,
    access_token: str | None,
    webhook_secret: str | None,
    public_url: str,
    settings: Settings,
) -> Bot:
    token = _secret(access_token, "accessToken")
    secret = _secret(webhook_secret, "webhookSecret")
    target = f"{_public_url(public_url)}{WEBHOOK_PATH}{caller.sid}"
    try:
        async with WebexClient(settings.webex_api_base_url, token, timeout=settings.webex_timeout_seconds) as webex:
            me = await webex.me()
            for hook in await webex.list_webhooks():
                if hook.get("targetUrl") == target and isinstance(hook.get("id"), str):
                    await _forget_webhook(webex, hook["id"])
            hook = await webex.create_webhook(name=WEBHOOK_NAME, target_url=target, secret=secret)
    except WebexApiError as exc:
        raise settings_error(exc) from None
    emails = me.get("emails") or []
    now = utcnow()
    repo = WebexRepository(session)
    bot = await repo.bot(caller.sid)
    if bot is None:
        bot = Bot(account_sid=caller.sid, date_created=now)
    bot.access_token_encrypted = box.encrypt(token)
    bot.webhook_secret_encrypted = box.encrypt(secret)
    bot.person_id = str(me.get("id") or "")
    bot.email = str(emails[0]) if emails else ""
    bot.display_name = str(me.get("displayName") or "")
    bot.webhook_id = str(hook.get("id")) if hook.get("id") else None
    bot.webhook_url = target
    bot.date_updated = now
    await repo.save_bot(bot)
    return bot


async def get_bot(session: AsyncSession, caller: Account) -> Bot:
    bot = await WebexRepository(session).bot(caller.sid)
    if bot is None:
        raise NotFound(f"Account {caller.sid} has no Webex bot settings")
    return bot


async def delete_bot(session: AsyncSession, box: SecretBox, caller: Account, settings: Settings) -> Bot:
    """Forget the bot; its webhook is deleted at Webex when Webex can be reached (else it is left)."""
    bot = await get_bot(session, caller)
    if bot.webhook_id:
        try:
            async with client_for(bot, box, settings) as webex:
                await webex.delete_webhook(bot.webhook_id)
        except WebexApiError as exc:
            log.warning("webex webhook not deleted", account_sid=caller.sid, error=exc.message)
    await WebexRepository(session).delete_bot(bot)
    return bot


async def bot_for_account(session: AsyncSession, account_sid: str) -> Bot | None:
    """The bot of ``account_sid`` or of its nearest ancestor."""
    try:
        account = await accounts.get_by_sid(session, account_sid)
    except NotFound:
        return None
    lineage = [sid for sid in account.lineage.strip("/").split("/") if sid]
    return await WebexRepository(session).nearest_bot(list(reversed(lineage)))


def bot_resource(bot: Bot, box: SecretBox, settings: Settings) -> dict[str, Any]:
    return {
        "accountSid": bot.account_sid,
        "accessToken": mask(box.decrypt(bot.access_token_encrypted)),
        "webhookSecret": mask(box.decrypt(bot.webhook_secret_encrypted)),
        "botId": bot.person_id,
        "botEmail": bot.email,
        "botName": bot.display_name,
        "webhookId": bot.webhook_id,
        "webhookUrl": bot.webhook_url,
        "webexApiUrl": settings.webex_api_base_url,
        "dateCreated": webex_timestamp(bot.date_created),
        "dateUpdated": webex_timestamp(bot.date_updated),
    }
