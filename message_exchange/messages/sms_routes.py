"""Restcomm's classic SMS API: ``/restcomm/2012-04-24/Accounts/{AccountSid}/SMS/Messages``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import ImmutableMultiDict
from starlette.responses import Response

from message_exchange.accounts import service as accounts
from message_exchange.accounts.deps import CurrentAccount, RememberedCaller
from message_exchange.accounts.service import Caller
from message_exchange.core.paging import Page, render_page
from message_exchange.core.params import body_openapi, read_params, validate_params
from message_exchange.core.rendering import parse_format, render_resource
from message_exchange.db.session import DBSession
from message_exchange.messages import service
from message_exchange.messages.addresses import parse_channel_uri
from message_exchange.messages.fastpath import Form
from message_exchange.messages.filters import query_from_params
from message_exchange.messages.intake import intake_of
from message_exchange.messages.schemas import SMS_BASE, sms_resource
from message_exchange.messages.service import SendRequest

router = APIRouter(prefix=SMS_BASE, tags=["sms"])

CLASSIC = service.ParamNames("From", "To", "Body", "MediaUrl", "StatusCallback", "StatusCallbackMethod", "POST")


class SendSmsParams(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    from_: str | None = Field(default=None, alias="From", description="E.164 number of yours, or alphanumeric id")
    to: str | None = Field(default=None, alias="To", description="E.164 recipient")
    body: str | None = Field(default=None, alias="Body")
    status_callback: str | None = Field(default=None, alias="StatusCallback")
    status_callback_method: str | None = Field(default=None, alias="StatusCallbackMethod")


def _sms(value: str | None) -> str | None:
    return f"sms:{value.strip()}" if value and value.strip() else None


async def accept_sms(request: Request, path: dict[str, Any], caller: Caller, form: Form) -> Response:
    """Send from a classic SMS request's inputs (the FastAPI endpoint's and the fast path's)."""
    params = validate_params(SendSmsParams, form)
    draft = service.build_draft(
        sender=parse_channel_uri(_sms(params.from_), param="From", sender=True),
        recipient=parse_channel_uri(_sms(params.to), param="To"),
        body=params.body,
        media=[],
        status_callback=params.status_callback,
        status_callback_method=params.status_callback_method,
        created_via="sms",
        names=CLASSIC,
    )
    message = await intake_of(request).send(SendRequest(caller, path["account_sid"], draft, CLASSIC))
    return render_resource(parse_format(path["fmt"]), "SMSMessage", sms_resource(message))


@router.post(
    "/Accounts/{account_sid:sid}/SMS/Messages{fmt:fmt}",
    summary="Send an SMS (classic API)",
    openapi_extra=body_openapi(SendSmsParams),
)
async def send_sms(
    account_sid: str,
    fmt: str,
    request: Request,
    caller: RememberedCaller,
    params: Annotated[dict[str, str], Depends(read_params)],
) -> Response:
    path = {"account_sid": account_sid, "fmt": fmt}
    return await accept_sms(request, path, caller, ImmutableMultiDict(params))


@router.get("/Accounts/{account_sid:sid}/SMS/Messages{fmt:fmt}", summary="List SMS messages (classic API)")
async def list_sms(
    account_sid: str, fmt: str, request: Request, session: DBSession, caller: CurrentAccount
) -> Response:
    account = await accounts.get_visible(session, caller, account_sid)
    params = request.query_params
    query = query_from_params(params, account.sid)
    total, messages = await service.list_messages(session, query)
    return render_page(
        parse_format(fmt),
        Page(request=query.page, total=total, items=[sms_resource(m) for m in messages]),
        uri=f"{SMS_BASE}/Accounts/{account.sid}/SMS/Messages{fmt}",
        query=params.multi_items(),
        list_key="messages",
        list_tag="SMSMessages",
        item_tag="SMSMessage",
    )


@router.get("/Accounts/{account_sid:sid}/SMS/Messages/{message_sid:sid}{fmt:fmt}", summary="Get one SMS (classic API)")
async def get_sms(account_sid: str, message_sid: str, fmt: str, session: DBSession, caller: CurrentAccount) -> Response:
    account = await accounts.get_visible(session, caller, account_sid)
    message = await service.get_message(session, account, message_sid)
    return render_resource(parse_format(fmt), "SMSMessage", sms_resource(message))
