"""Restcomm IncomingPhoneNumbers: ``/Accounts/{AccountSid}/IncomingPhoneNumbers[/{sid}][.json|.xml]``."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel
from starlette.responses import Response

from message_exchange.accounts import service as accounts
from message_exchange.accounts.deps import CurrentAccount
from message_exchange.core.errors import BadRequest
from message_exchange.core.paging import Page, parse_page_request, render_page
from message_exchange.core.params import body_of, body_openapi
from message_exchange.core.rendering import parse_format, render_resource
from message_exchange.core.sorting import parse_sort
from message_exchange.db.session import DBSession
from message_exchange.numbers import service
from message_exchange.numbers.models import IncomingPhoneNumber
from message_exchange.numbers.schemas import API_BASE, NumberCreate, NumberUpdate, check_text, number_resource

router = APIRouter(prefix=API_BASE, tags=["incoming phone numbers"])

M = TypeVar("M", bound=BaseModel)

_LIST = "/Accounts/{account_sid:sid}/IncomingPhoneNumbers{fmt:fmt}"
_ONE = "/Accounts/{account_sid:sid}/IncomingPhoneNumbers/{sid:sid}{fmt:fmt}"
_TAG = "IncomingPhoneNumber"

# The documented code of a bad body parameter (anything else keeps BadRequest's 21100).
_PARAM_CODES = {
    "PhoneNumber": service.INVALID_NUMBER,
    "SmsUrl": service.INVALID_URL,
    "SmsFallbackUrl": service.INVALID_URL,
    "StatusCallback": service.INVALID_URL,
    "SmsMethod": service.INVALID_METHOD,
    "SmsFallbackMethod": service.INVALID_METHOD,
    "StatusCallbackMethod": service.INVALID_METHOD,
}
_FILTER_SEPARATORS = re.compile(r"[ ()./-]")
_PHONE_FILTER = re.compile(r"\+?[0-9%]{0,16}")


def _coded_body(model: type[M]) -> Callable[[Request], Awaitable[M]]:
    """``body_of(model)`` whose 400s carry the parameter's documented error code."""
    read = body_of(model)

    async def dependency(request: Request) -> M:
        try:
            return await read(request)
        except BadRequest as exc:
            exc.code = _PARAM_CODES.get(exc.param or "", exc.code)
            raise

    return dependency


def _phone_filter(raw: str | None) -> str | None:
    """The ``PhoneNumber`` filter: a prefix of digits (``%`` matches anything).

    An unencoded ``+`` in a query string arrives as a space, so a leading space is read
    as ``+``; separators people type (`` ()-./``) are ignored.
    """
    if raw is None or raw == "":
        return None
    text = raw.lstrip()
    if len(text) != len(raw) and not text.startswith("+"):
        text = f"+{text}"
    text = _FILTER_SEPARATORS.sub("", text)
    if not text or not _PHONE_FILTER.fullmatch(text):
        raise BadRequest(
            f"PhoneNumber filter must be digits with an optional leading + and % wildcards, got {raw!r}",
            param="PhoneNumber",
            code=service.INVALID_NUMBER,
        )
    return text


def _name_filter(raw: str | None) -> str | None:
    try:
        return check_text(raw) or None
    except ValueError as exc:
        raise BadRequest(f"FriendlyName filter {exc}", param="FriendlyName") from None


def _render(fmt: str, number: IncomingPhoneNumber, status_code: int = 200) -> Response:
    return render_resource(parse_format(fmt), _TAG, number_resource(number), status_code)


@router.get(_LIST, summary="List an account's incoming phone numbers")
async def list_numbers(
    account_sid: str,
    fmt: str,
    request: Request,
    session: DBSession,
    caller: CurrentAccount,
    phone_number: Annotated[
        str | None, Query(alias="PhoneNumber", description="Prefix of the E.164 number; % is a wildcard")
    ] = None,
    friendly_name: Annotated[
        str | None, Query(alias="FriendlyName", max_length=64, description="Prefix (case-insensitive); % is a wildcard")
    ] = None,
    sort_by: Annotated[
        str | None, Query(alias="SortBy", description="DateCreated|PhoneNumber|FriendlyName:asc|desc")
    ] = None,
    page: Annotated[str | None, Query(alias="Page")] = None,
    page_size: Annotated[str | None, Query(alias="PageSize")] = None,
) -> Response:
    account = await accounts.get_visible(session, caller, account_sid)
    params = request.query_params
    query = service.NumberQuery(
        page=parse_page_request(params),
        sort=parse_sort(sort_by, service.NUMBER_SORTS, default=service.DEFAULT_SORT),
        phone_number=_phone_filter(phone_number),
        friendly_name=_name_filter(friendly_name),
    )
    total, numbers = await service.list_numbers(session, account, query)
    return render_page(
        parse_format(fmt),
        Page(request=query.page, total=total, items=[number_resource(n) for n in numbers]),
        uri=f"{API_BASE}/Accounts/{account.sid}/IncomingPhoneNumbers{fmt or '.json'}",
        query=params.multi_items(),
        list_key="incoming_phone_numbers",
        list_tag="IncomingPhoneNumbers",
        item_tag=_TAG,
    )


@router.post(
    _LIST,
    summary="Add an incoming phone number (E.164, unique system-wide: 409 / 21422 when taken)",
    status_code=201,
    openapi_extra=body_openapi(NumberCreate),
)
async def create_number(
    account_sid: str,
    fmt: str,
    session: DBSession,
    caller: CurrentAccount,
    body: Annotated[NumberCreate, Depends(_coded_body(NumberCreate))],
) -> Response:
    account = await accounts.get_visible(session, caller, account_sid)
    # The body model's fields are the service's, by name.
    new = service.NewNumber(**body.model_dump())
    return _render(fmt, await service.add_number(session, account, new), 201)


@router.get(_ONE, summary="Get an incoming phone number")
async def get_number(account_sid: str, sid: str, fmt: str, session: DBSession, caller: CurrentAccount) -> Response:
    account = await accounts.get_visible(session, caller, account_sid)
    return _render(fmt, await service.get_owned(session, account, sid))


_UPDATE_SUMMARY = "Update an incoming phone number (URLs, methods, capabilities, FriendlyName)"


@router.put(_ONE, summary=_UPDATE_SUMMARY, openapi_extra=body_openapi(NumberUpdate), operation_id="update_number_put")
@router.post(_ONE, summary=_UPDATE_SUMMARY, openapi_extra=body_openapi(NumberUpdate), operation_id="update_number")
async def update_number(
    account_sid: str,
    sid: str,
    fmt: str,
    session: DBSession,
    caller: CurrentAccount,
    body: Annotated[NumberUpdate, Depends(_coded_body(NumberUpdate))],
) -> Response:
    account = await accounts.get_visible(session, caller, account_sid)
    number = await service.get_owned(session, account, sid)
    changes = service.NumberChanges(**body.model_dump())
    return _render(fmt, await service.update_number(session, number, changes))


@router.delete(_ONE, summary="Release an incoming phone number", status_code=204)
async def delete_number(account_sid: str, sid: str, fmt: str, session: DBSession, caller: CurrentAccount) -> Response:
    account = await accounts.get_visible(session, caller, account_sid)
    await service.remove_number(session, await service.get_owned(session, account, sid))
    return Response(status_code=204)
