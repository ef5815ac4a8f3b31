"""Messages API: ``/api/2012-04-24/Accounts/{AccountSid}/Messages`` (also under ``/restcomm``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
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
from message_exchange.messages.schemas import SendMessageParams, message_resource
from message_exchange.messages.service import SendRequest

PREFIXES = ("/api/2012-04-24", "/restcomm/2012-04-24")


def _prefix(request: Request) -> str:
    return next((p for p in PREFIXES if request.url.path.startswith(p)), PREFIXES[0])


async def accept_message(request: Request, path: dict[str, Any], caller: Caller, form: Form) -> Response:
    """Send from a Messages API request's inputs (the FastAPI endpoint's and the fast path's)."""
    params = validate_params(SendMessageParams, form)
    draft = service.build_draft(
        sender=parse_channel_uri(params.from_, param="from", sender=True),
        recipient=parse_channel_uri(params.to, param="to"),
        body=params.body,
        media=service.parse_media_list(params.media_list),
        status_callback=params.status_callback,
        status_callback_method=params.status_callback_method,
        created_via="messages",
        names=service.MESSAGES_API,
    )
    message = await intake_of(request).send(SendRequest(caller, path["account_sid"], draft, service.MESSAGES_API))
    prefix = _prefix(request)
    return render_resource(parse_format(path["fmt"]), "Message", message_resource(message, prefix=prefix))


async def send_message(
    account_sid: str,
    fmt: str,
    request: Request,
    caller: RememberedCaller,
    params: Annotated[dict[str, str], Depends(read_params)],
) -> Response:
    path = {"account_sid": account_sid, "fmt": fmt}
    return await accept_message(request, path, caller, ImmutableMultiDict(params))


async def list_messages(
    account_sid: str,
    fmt: str,
    request: Request,
    session: DBSession,
    caller: CurrentAccount,
    to: Annotated[str | None, Query(alias="To", description="Recipient prefix, % wildcard")] = None,
    from_: Annotated[str | None, Query(alias="From", description="Sender prefix, % wildcard")] = None,
    start_time: Annotated[str | None, Query(alias="StartTime")] = None,
    end_time: Annotated[str | None, Query(alias="EndTime")] = None,
    status: Annotated[str | None, Query(alias="Status")] = None,
    error_code: Annotated[str | None, Query(alias="ErrorCode")] = None,
    body: Annotated[str | None, Query(alias="Body", description="Text the body contains")] = None,
    sort_by: Annotated[str | None, Query(alias="SortBy", description="DateCreated|From|To|Direction|Status")] = None,
    page: Annotated[str | None, Query(alias="Page")] = None,
    page_size: Annotated[str | None, Query(alias="PageSize")] = None,
) -> Response:
    account = await accounts.get_visible(session, caller, account_sid)
    params = request.query_params
    query = query_from_params(params, account.sid)
    total, messages = await service.list_messages(session, query)
    prefix = _prefix(request)
    return render_page(
        parse_format(fmt),
        Page(request=query.page, total=total, items=[message_resource(m, prefix=prefix) for m in messages]),
        uri=f"{prefix}/Accounts/{account.sid}/Messages{fmt}",
        query=params.multi_items(),
        list_key="messages",
        list_tag="Messages",
        item_tag="Message",
    )


async def get_message(
    account_sid: str, message_sid: str, fmt: str, request: Request, session: DBSession, caller: CurrentAccount
) -> Response:
    account = await accounts.get_visible(session, caller, account_sid)
    message = await service.get_message(session, account, message_sid)
    return render_resource(parse_format(fmt), "Message", message_resource(message, prefix=_prefix(request)))


def _router(prefix: str) -> APIRouter:
    """The same endpoints under one prefix: the document serves them under /api and /restcomm."""
    family = prefix.strip("/").split("/")[0]
    router = APIRouter(prefix=prefix, tags=["messages"])
    collection = "/Accounts/{account_sid:sid}/Messages{fmt:fmt}"
    router.add_api_route(
        collection,
        send_message,
        methods=["POST"],
        summary="Send a message (sms: or mms: channel URIs)",
        openapi_extra=body_openapi(SendMessageParams),
        operation_id=f"send_message_{family}",
    )
    router.add_api_route(
        collection, list_messages, methods=["GET"], summary="List messages", operation_id=f"list_messages_{family}"
    )
    router.add_api_route(
        "/Accounts/{account_sid:sid}/Messages/{message_sid:sid}{fmt:fmt}",
        get_message,
        methods=["GET"],
        summary="Get one message",
        operation_id=f"get_message_{family}",
    )
    return router


routers = [_router(prefix) for prefix in PREFIXES]
