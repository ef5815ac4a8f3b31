"""Restcomm Accounts API: ``/restcomm/2012-04-24/Accounts[.json|.xml]``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from message_exchange.accounts import service
from message_exchange.accounts.deps import CurrentAccount
from message_exchange.accounts.models import Account
from message_exchange.accounts.schemas import API_BASE, AccountCreate, AccountUpdate, account_resource
from message_exchange.core.crypto import SecretBox
from message_exchange.core.dates import parse_time_filter
from message_exchange.core.errors import BadRequest
from message_exchange.core.paging import Page, parse_page_request, render_page
from message_exchange.core.params import body_of, body_openapi
from message_exchange.core.rendering import parse_format, render_resource
from message_exchange.core.sorting import parse_sort
from message_exchange.db.session import DBSession

router = APIRouter(prefix=API_BASE, tags=["accounts"])

_STATUSES = ("active", "suspended", "closed")


def _box(request: Request) -> SecretBox:
    box: SecretBox = request.app.state.secret_box
    return box


Box = Annotated[SecretBox, Depends(_box)]


def _render(fmt: str, box: SecretBox, account: Account, token: str | None = None) -> Response:
    shown = token if token is not None else service.masked_token(box, account)
    return render_resource(parse_format(fmt), "Account", account_resource(account, shown))


@router.get("/Accounts{fmt:fmt}", summary="List your account and its sub-accounts")
async def list_accounts(
    fmt: str,
    request: Request,
    session: DBSession,
    caller: CurrentAccount,
    box: Box,
    status: Annotated[str | None, Query(alias="Status", description="active, suspended or closed")] = None,
    start_time: Annotated[str | None, Query(alias="StartTime", description="Created on/after (ISO-8601)")] = None,
    end_time: Annotated[str | None, Query(alias="EndTime", description="Created on/before (ISO-8601)")] = None,
    sort_by: Annotated[
        str | None, Query(alias="SortBy", description="DateCreated|FriendlyName|EmailAddress|Status:asc|desc")
    ] = None,
    page: Annotated[str | None, Query(alias="Page")] = None,
    page_size: Annotated[str | None, Query(alias="PageSize")] = None,
) -> Response:
    params = request.query_params
    if status is not None and status not in _STATUSES:
        raise BadRequest(f"Status must be one of {', '.join(_STATUSES)}", param="Status")
    query = service.AccountQuery(
        page=parse_page_request(params),
        sort=parse_sort(sort_by, service.ACCOUNT_SORTS, default=service.DEFAULT_SORT),
        status=status,
        created_from=parse_time_filter(start_time, param="StartTime", end_of_range=False) if start_time else None,
        created_to=parse_time_filter(end_time, param="EndTime", end_of_range=True) if end_time else None,
    )
    total, accounts = await service.list_visible(session, caller, query)
    items = [account_resource(a, service.masked_token(box, a)) for a in accounts]
    return render_page(
        parse_format(fmt),
        Page(request=query.page, total=total, items=items),
        uri=f"{API_BASE}/Accounts{fmt or '.json'}",
        query=params.multi_items(),
        list_key="accounts",
        list_tag="Accounts",
        item_tag="Account",
    )


@router.post(
    "/Accounts{fmt:fmt}",
    summary="Create a sub-account (the auth token is shown in full only in this response)",
    openapi_extra=body_openapi(AccountCreate),
)
async def create_account(
    fmt: str,
    session: DBSession,
    caller: CurrentAccount,
    box: Box,
    body: Annotated[AccountCreate, Depends(body_of(AccountCreate))],
) -> Response:
    new = service.NewAccount(
        email=body.email_address,
        password=body.password,
        friendly_name=body.friendly_name,
        role=body.role,
        parent_sid=body.parent_sid,
    )
    account, token = await service.create_account(session, box, new, creator=caller)
    return _render(fmt, box, account, token)


@router.get("/Accounts/{sid:sid}{fmt:fmt}", summary="Get an account")
async def get_account(sid: str, fmt: str, session: DBSession, caller: CurrentAccount, box: Box) -> Response:
    return _render(fmt, box, await service.get_visible(session, caller, sid))


_UPDATE_SUMMARY = "Update an account (FriendlyName, EmailAddress, Password; Role and Status by a parent)"


@router.put(
    "/Accounts/{sid:sid}{fmt:fmt}",
    summary=_UPDATE_SUMMARY,
    openapi_extra=body_openapi(AccountUpdate),
    operation_id="update_account_put",
)
@router.post(
    "/Accounts/{sid:sid}{fmt:fmt}",
    summary=_UPDATE_SUMMARY,
    openapi_extra=body_openapi(AccountUpdate),
    operation_id="update_account",
)
async def update_account(
    sid: str,
    fmt: str,
    session: DBSession,
    caller: CurrentAccount,
    box: Box,
    body: Annotated[AccountUpdate, Depends(body_of(AccountUpdate))],
) -> Response:
    target = await service.get_visible(session, caller, sid)
    changes = service.AccountChanges(
        friendly_name=body.friendly_name,
        email=body.email_address,
        password=body.password,
        role=body.role,
        status=body.status,
    )
    return _render(fmt, box, await service.update_account(session, caller, target, changes))


@router.post(
    "/Accounts/{sid:sid}/AuthToken{fmt:fmt}",
    summary="Rotate an account's auth token (the new token is shown in full only in this response)",
)
async def rotate_auth_token(sid: str, fmt: str, session: DBSession, caller: CurrentAccount, box: Box) -> Response:
    target = await service.get_visible(session, caller, sid)
    token = await service.rotate_token(session, box, target)
    return _render(fmt, box, target, token)
