"""Twilio-shaped Messages routes (``/2010-04-01``), so the official ``twilio`` client works.

Create answers 201; errors use Twilio's body and codes (21211 bad To, 21212 bad From,
21602 no Body, 21603/21604 missing From/To, 21606 From not ours, 21610 recipient opted
out, 21617 Body too long, 20003 auth, 20404 not found). Absent page links are JSON null.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import ImmutableMultiDict
from starlette.responses import Response

from message_exchange.accounts import service as accounts
from message_exchange.accounts.deps import CurrentAccount, RememberedCaller
from message_exchange.accounts.service import Caller
from message_exchange.core.paging import Page, page_envelope
from message_exchange.core.rendering import JSONResponse
from message_exchange.db.session import DBSession
from message_exchange.messages import service
from message_exchange.messages.addresses import parse_channel_uri
from message_exchange.messages.fastpath import Form
from message_exchange.messages.filters import query_from_params
from message_exchange.messages.intake import intake_of
from message_exchange.messages.schemas import TWILIO_BASE, twilio_resource
from message_exchange.messages.service import SendRequest

router = APIRouter(prefix=TWILIO_BASE, tags=["twilio-compatible"])


def _address(channel: str, value: str | None) -> str | None:
    return f"{channel}:{value.strip()}" if value and value.strip() else None


@router.post(
    "/Accounts/{account_sid:sid}/Messages.json",
    status_code=201,
    summary="Send a message (Twilio-compatible; MediaUrl makes it MMS)",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            name: {"type": "string"}
                            for name in ("To", "From", "Body", "MediaUrl", "StatusCallback", "StatusCallbackMethod")
                        },
                    }
                }
            }
        }
    },
)
async def create_message(account_sid: str, request: Request, caller: RememberedCaller) -> Response:
    form = await request.form()
    fields = ImmutableMultiDict([(key, value) for key, value in form.multi_items() if isinstance(value, str)])
    return await accept_twilio_message(request, {"account_sid": account_sid}, caller, fields)


async def accept_twilio_message(request: Request, path: dict[str, Any], caller: Caller, form: Form) -> Response:
    """Send from a Twilio-shaped request's inputs (the FastAPI endpoint's and the fast path's)."""
    media_urls = form.getlist("MediaUrl")
    channel = "mms" if media_urls else "sms"
    names = service.TWILIO_API
    draft = service.build_draft(
        sender=parse_channel_uri(_address(channel, form.get("From")), param="From", sender=True),
        recipient=parse_channel_uri(_address(channel, form.get("To")), param="To"),
        body=form.get("Body"),
        media=[{"url": url, "content_type": None} for url in media_urls],
        status_callback=form.get("StatusCallback"),
        status_callback_method=form.get("StatusCallbackMethod"),
        created_via="twilio",
        names=names,
    )
    message = await intake_of(request).send(SendRequest(caller, path["account_sid"], draft, names))
    return JSONResponse(twilio_resource(message), status_code=201)


@router.get("/Accounts/{account_sid:sid}/Messages.json", summary="List messages (Twilio-compatible)")
async def list_messages(account_sid: str, request: Request, session: DBSession, caller: CurrentAccount) -> Response:
    account = await accounts.get_visible(session, caller, account_sid)
    params = request.query_params
    query = query_from_params(params, account.sid)
    total, messages = await service.list_messages(session, query)
    envelope = page_envelope(
        Page(request=query.page, total=total, items=[twilio_resource(m) for m in messages]),
        uri=f"{TWILIO_BASE}/Accounts/{account.sid}/Messages.json",
        query=params.multi_items(),
        list_key="messages",
        null_link=None,
    )
    return JSONResponse(envelope)


@router.get(
    "/Accounts/{account_sid:sid}/Messages/{message_sid:sid}.json", summary="Fetch a message (Twilio-compatible)"
)
async def fetch_message(account_sid: str, message_sid: str, session: DBSession, caller: CurrentAccount) -> Response:
    account = await accounts.get_visible(session, caller, account_sid)
    return JSONResponse(twilio_resource(await service.get_message(session, account, message_sid)))
