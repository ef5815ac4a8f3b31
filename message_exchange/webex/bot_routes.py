"""Webex bot settings (our own endpoint), the webhook receiver, and media links for carriers.

- ``GET|PUT|DELETE /webex/bot``: the caller's bot settings (Basic auth). PUT takes
  ``accessToken``, ``webhookSecret`` and optionally ``publicUrl``; secrets are shown masked.
  Saving talks to Webex: when Webex refuses, is unreachable or throttles, the answer is 400,
  502 or 503 (with ``Retry-After``) and nothing is saved (see :func:`bot.settings_error`).
- ``POST /webex/bot/webhook/{accountSid}``: Webex's ``messages.created`` notifications,
  verified with ``X-Spark-Signature`` (→ 401 and nothing stored when it does not match).
- ``GET /webex/media/{accountSid}/{token}``: a file of a Webex message, fetched with the
  bot's token, for the carrier sending the MMS. The token is the file's Webex URL encrypted
  with ``MX_SECRET_KEY`` (unguessable, and only Webex API URLs are ever fetched).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from message_exchange.accounts.deps import CurrentAccount
from message_exchange.core.crypto import SecretBox
from message_exchange.core.errors import NotFound, UpstreamError
from message_exchange.core.params import body_of, body_openapi
from message_exchange.core.rendering import JSONResponse
from message_exchange.db.session import DBSession
from message_exchange.webex import bot as bots
from message_exchange.webex import relay, render
from message_exchange.webex.client import WebexApiError
from message_exchange.webex.repository import WebexRepository
from message_exchange.webex.schemas import BotBody

router = APIRouter(prefix="/webex", tags=["Webex exchange: bot"])


ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"errorCode": {"type": "string"}, "message": {"type": "string"}, "data": {}},
}


def _error(description: str) -> dict[str, Any]:
    """An OpenAPI response in the family's error envelope."""
    return {"description": description, "content": {"application/json": {"schema": ERROR_SCHEMA}}}


AUTH: dict[int | str, dict[str, Any]] = {401: _error("Missing or wrong credentials.")}
NO_BOT: dict[int | str, dict[str, Any]] = {404: _error("The account has no Webex bot settings.")}
SAVE_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error("A missing or malformed field, or Webex refused the token (accessToken) or the webhook (publicUrl)."),
    502: _error("Webex could not be reached, timed out or failed; nothing was saved. Try again."),
    503: _error("Webex is rate limiting the bot; nothing was saved. Try again after Retry-After seconds."),
}


@router.get("/bot", responses={**AUTH, **NO_BOT})
async def get_bot(request: Request, session: DBSession, caller: CurrentAccount) -> Response:
    bot = await bots.get_bot(session, caller)
    return render.ok(bots.bot_resource(bot, request.app.state.secret_box, request.app.state.settings))


@router.put("/bot", openapi_extra=body_openapi(BotBody), responses={**AUTH, **SAVE_ERRORS})
async def save_bot(
    request: Request, session: DBSession, caller: CurrentAccount, body: Annotated[BotBody, Depends(body_of(BotBody))]
) -> Response:
    settings = request.app.state.settings
    box: SecretBox = request.app.state.secret_box
    public_url = body.public_url or settings.public_url or str(request.base_url)
    bot = await bots.save_bot(
        session,
        box,
        caller,
        access_token=body.access_token,
        webhook_secret=body.webhook_secret,
        public_url=public_url,
        settings=settings,
    )
    return render.ok(bots.bot_resource(bot, box, settings))


@router.delete("/bot", responses={**AUTH, **NO_BOT})
async def delete_bot(request: Request, session: DBSession, caller: CurrentAccount) -> Response:
    settings = request.app.state.settings
    box: SecretBox = request.app.state.secret_box
    bot = await bots.delete_bot(session, box, caller, settings)
    return render.ok(bots.bot_resource(bot, box, settings))


@router.post(
    "/bot/webhook/{account_sid}",
    responses={401: _error("X-Spark-Signature missing or wrong; nothing stored."), 400: _error("Not JSON.")},
)
async def receive_webhook(account_sid: str, request: Request, session: DBSession) -> Response:
    body = await request.body()
    await relay.accept_webhook(
        session, request.app.state.secret_box, account_sid, body, request.headers.get(relay.SIGNATURE_HEADER)
    )
    return JSONResponse({"status": "accepted"})


@router.get(
    "/media/{account_sid}/{token}",
    responses={404: _error("No such media."), 502: _error("Webex is unreachable or failing; fetch again later.")},
)
async def media(account_sid: str, token: str, request: Request, session: DBSession) -> Response:
    box: SecretBox = request.app.state.secret_box
    bot = await WebexRepository(session).bot(account_sid)
    try:
        url = box.decrypt(token) if bot is not None else ""
    except ValueError:
        url = ""
    if bot is None or not url:
        raise NotFound("No such media")
    try:
        async with bots.client_for(bot, box, request.app.state.settings) as webex:
            content, content_type = await webex.download(url)
    except WebexApiError as exc:
        if exc.retryable:  # Webex down or throttling: the carrier may fetch again later
            raise UpstreamError("The media cannot be fetched from Webex right now") from None
        raise NotFound("The media is not available") from None
    return Response(content, media_type=content_type)
