"""Teams exchange management API: business customers, mappings, bot details, message records.

Every path the document uses is served, its variants included: business customers under
``/msteams/enterprises`` and ``/msteams/enterprise`` (the create curl line); mappings under
``/msteams/mappings`` and ``/msteams/teams/mappings`` (the curl lines and resource URIs);
bot details under ``/msteams/teamsbot`` and ``/msteams/teamsbot/details`` (and
``/mxteams/teamsbot/details``, the document's curl spelling; its update example POSTs to
``…/details/{BotSid}``, so POST there updates as PUT does). Lists answer on their path with a
trailing slash too, the form of the page links the document shows (``…/search/?pageSize=10&page=0``).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from message_exchange.accounts.deps import CurrentAccount
from message_exchange.core.crypto import SecretBox
from message_exchange.core.dates import parse_time_filter
from message_exchange.core.families import register_family
from message_exchange.core.paging import PageRequest, parse_page_request
from message_exchange.core.params import body_of, body_openapi
from message_exchange.core.sorting import Sort, parse_sort
from message_exchange.db.session import DBSession
from message_exchange.exchange.params import DIRECTIONS, TYPES, one_of, optional
from message_exchange.exchange.repository import RECORD_SORTS, RecordFilter
from message_exchange.msteams import bots, mappings, render, service
from message_exchange.msteams.bridge_routes import router as bridge_router
from message_exchange.msteams.errors import teams_error
from message_exchange.msteams.models import CHANNEL, EnterpriseStatus
from message_exchange.msteams.repository import (
    BOT_SORTS,
    ENTERPRISE_SORTS,
    MAPPING_SORTS,
    BotFilter,
    BotRow,
    EnterpriseFilter,
    MappingFilter,
)
from message_exchange.msteams.schemas import (
    BotBody,
    EnterpriseBody,
    EnterpriseUpdateBody,
    MappingBody,
    MappingUpdateBody,
)

ROOTS = ("/msteams", "/mxteams")
for _root in ROOTS:
    register_family(f"{_root}/", teams_error)

router = APIRouter(prefix="/msteams", tags=["Teams exchange"])
bot_router = APIRouter(tags=["Teams exchange: bot details"])

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 1000

Opt = str | None


def _paging(
    page: Annotated[Opt, Query(description="Page number, from 0.")] = None,
    page_size: Annotated[Opt, Query(alias="pageSize", description="Records per page (default 10).")] = None,
    per_page: Annotated[Opt, Query(description="Same as pageSize.")] = None,
) -> PageRequest:
    params = {"page": page or "", "pageSize": page_size if page_size not in (None, "") else (per_page or "")}
    return parse_page_request(
        params, default_size=DEFAULT_PAGE_SIZE, max_size=MAX_PAGE_SIZE, page_param="page", size_param="pageSize"
    )


Paging = Annotated[PageRequest, Depends(_paging)]
SortBy = Annotated[Opt, Query(alias="sortBy", description="<attribute>:<asc|desc>")]
SortByUpper = Annotated[Opt, Query(alias="SortBy", description="Same as sortBy.")]
StartTime = Annotated[Opt, Query(alias="startTime", description="Created on or after (ISO-8601, UTC).")]
EndTime = Annotated[Opt, Query(alias="endTime", description="Created on or before (ISO-8601, UTC).")]
EnterpriseSid = Annotated[Opt, Query(alias="EnterpriseSid", description="Only this business customer's.")]
EnterpriseSidLower = Annotated[Opt, Query(alias="enterpriseSid", description="Same as EnterpriseSid.")]


# ``2019-10-10T13:13:48+0000`` (the document's form) sent unencoded arrives with a space for its "+".
_UNENCODED_OFFSET = re.compile(r"(T\d\d:\d\d(?::\d\d(?:\.\d+)?)?) (\d\d:?\d\d)$")


def _time(value: str | None, param: str, *, end_of_range: bool) -> datetime | None:
    if not value:
        return None
    text = _UNENCODED_OFFSET.sub(r"\1+\2", value.strip())
    return parse_time_filter(text, param=param, end_of_range=end_of_range)


def _times(start: str | None, end: str | None) -> tuple[datetime | None, datetime | None]:
    return _time(start, "startTime", end_of_range=False), _time(end, "endTime", end_of_range=True)


def _sort(value: str | None, upper: str | None, allowed: dict[str, Any], default: str) -> Sort:
    return parse_sort(value or upper, allowed, default=Sort(default, False), param="sortBy")


def _list_path(request: Request) -> str:
    """The page links repeat the path the list was asked on (every example of the document does)."""
    return request.url.path.rstrip("/")


def _query(request: Request) -> list[tuple[str, str]]:
    return list(request.query_params.multi_items())


def _box(request: Request) -> SecretBox:
    box: SecretBox = request.app.state.secret_box
    return box


# Business customers


def _enterprise(row: tuple[Any, str, str]) -> dict[str, Any]:
    item, email, admin_email = row
    return render.enterprise(item, email=email, admin_email=admin_email)


@router.post("/enterprises", openapi_extra=body_openapi(EnterpriseBody))
@router.post("/enterprise", openapi_extra=body_openapi(EnterpriseBody))
async def create_enterprise(
    request: Request,
    session: DBSession,
    caller: CurrentAccount,
    body: Annotated[EnterpriseBody, Depends(body_of(EnterpriseBody))],
) -> Response:
    new = service.NewEnterprise(name=body.name, status=body.status, enterprise_admin=body.enterprise_admin)
    row = await service.create_enterprise(session, _box(request), caller, new)
    response = render.ok(_enterprise(row))
    response.status_code = 201
    return response


@router.put("/enterprises/{enterprise_sid}", openapi_extra=body_openapi(EnterpriseUpdateBody))
@router.put("/enterprise/{enterprise_sid}", openapi_extra=body_openapi(EnterpriseUpdateBody))
async def update_enterprise(
    enterprise_sid: str,
    session: DBSession,
    caller: CurrentAccount,
    body: Annotated[EnterpriseUpdateBody, Depends(body_of(EnterpriseUpdateBody))],
) -> Response:
    row = await service.update_enterprise(session, caller, enterprise_sid, name=body.name, status=body.status)
    return render.ok(_enterprise(row))


@router.delete("/enterprises/{enterprise_sid}")
@router.delete("/enterprise/{enterprise_sid}")
async def delete_enterprise(enterprise_sid: str, session: DBSession, caller: CurrentAccount) -> Response:
    return render.ok(_enterprise(await service.delete_enterprise(session, caller, enterprise_sid)))


@router.get("/enterprises/search")
@router.get("/enterprise/search")
@router.get("/enterprises/search/", include_in_schema=False)  # the page links' own form
@router.get("/enterprise/search/", include_in_schema=False)
async def list_enterprises(
    request: Request,
    session: DBSession,
    caller: CurrentAccount,
    paging: Paging,
    sort_by: SortBy = None,
    sort_by_upper: SortByUpper = None,
    name: Annotated[Opt, Query(description="Name contains (any case).")] = None,
    status: Annotated[Opt, Query(alias="Status", description="ACTIVE, INACTIVE or CLOSED.")] = None,
    status_lower: Annotated[Opt, Query(alias="status", description="Same as Status.")] = None,
    start_time: StartTime = None,
    end_time: EndTime = None,
) -> Response:
    start, end = _times(start_time, end_time)
    state = service.parse_status(optional(status) or optional(status_lower), tuple(EnterpriseStatus))
    query = service.EnterpriseQuery(
        page=paging,
        sort=_sort(sort_by, sort_by_upper, ENTERPRISE_SORTS, "dateCreated"),
        flt=EnterpriseFilter(
            lineage=caller.lineage,
            name=optional(name),
            status=state.value if state else None,
            start=start,
            end=end,
        ),
    )
    total, rows = await service.list_enterprises(session, query)
    items = [_enterprise(row) for row in rows]
    return render.page(paging, total, items, uri=_list_path(request), query=_query(request))


@router.get("/enterprises/search/{enterprise_sid}")
@router.get("/enterprise/search/{enterprise_sid}")
async def get_enterprise(enterprise_sid: str, session: DBSession, caller: CurrentAccount) -> Response:
    return render.ok(_enterprise(await service.get_enterprise(session, caller, enterprise_sid)))


# Mappings


def _mapping(row: tuple[Any, str, str]) -> dict[str, Any]:
    item, enterprise_name, email = row
    return render.mapping(item, enterprise_name=enterprise_name, email=email)


@router.post("/mappings", openapi_extra=body_openapi(MappingBody))
@router.post("/teams/mappings", openapi_extra=body_openapi(MappingBody))
async def create_mapping(
    request: Request,
    session: DBSession,
    caller: CurrentAccount,
    body: Annotated[MappingBody, Depends(body_of(MappingBody))],
) -> Response:
    new = mappings.NewMapping(
        microsoft_address=body.microsoft_address,
        external_address=body.external_address,
        enterprise_sid=body.enterprise_sid,
        name=body.name,
    )
    row = await mappings.create_mapping(session, _box(request), request.app.state.settings, caller, new)
    return render.ok(_mapping(row))


@router.put("/mappings/{mapping_sid}", openapi_extra=body_openapi(MappingUpdateBody))
@router.put("/teams/mappings/{mapping_sid}", openapi_extra=body_openapi(MappingUpdateBody))
async def update_mapping(
    mapping_sid: str,
    request: Request,
    session: DBSession,
    caller: CurrentAccount,
    body: Annotated[MappingUpdateBody, Depends(body_of(MappingUpdateBody))],
) -> Response:
    changes = mappings.MappingChanges(
        name=body.name, microsoft_address=body.microsoft_address, enterprise_sid=body.enterprise_sid
    )
    row = await mappings.update_mapping(
        session, _box(request), request.app.state.settings, caller, mapping_sid, changes
    )
    return render.ok(_mapping(row))


@router.delete("/mappings/{mapping_sid}")
@router.delete("/teams/mappings/{mapping_sid}")
async def delete_mapping(mapping_sid: str, session: DBSession, caller: CurrentAccount) -> Response:
    return render.ok(_mapping(await mappings.delete_mapping(session, caller, mapping_sid)))


@router.get("/mappings/search")
@router.get("/teams/mappings/search")
@router.get("/mappings/search/", include_in_schema=False)
@router.get("/teams/mappings/search/", include_in_schema=False)
async def list_mappings(
    request: Request,
    session: DBSession,
    caller: CurrentAccount,
    paging: Paging,
    sort_by: SortBy = None,
    sort_by_upper: SortByUpper = None,
    enterprise_sid: EnterpriseSid = None,
    enterprise_sid_lower: EnterpriseSidLower = None,
    start_time: StartTime = None,
    end_time: EndTime = None,
    name: Annotated[Opt, Query(description="Name contains (any case).")] = None,
    microsoft_address: Annotated[Opt, Query(alias="microsoftAddress", description="microsoftAddress contains.")] = None,
    external_address: Annotated[Opt, Query(alias="externalAddress", description="externalAddress contains.")] = None,
) -> Response:
    start, end = _times(start_time, end_time)
    query = mappings.MappingQuery(
        page=paging,
        sort=_sort(sort_by, sort_by_upper, MAPPING_SORTS, "dateCreated"),
        flt=MappingFilter(
            lineage=caller.lineage,
            enterprise_sid=optional(enterprise_sid) or optional(enterprise_sid_lower),
            start=start,
            end=end,
            name=optional(name),
            microsoft_address=optional(microsoft_address),
            external_address=optional(external_address),
        ),
    )
    total, rows = await mappings.list_mappings(session, query)
    items = [_mapping(row) for row in rows]
    return render.page(paging, total, items, uri=_list_path(request), query=_query(request))


@router.get("/mappings/search/{mapping_sid}")
@router.get("/teams/mappings/search/{mapping_sid}")
async def get_mapping(mapping_sid: str, session: DBSession, caller: CurrentAccount) -> Response:
    return render.ok(_mapping(await mappings.get_mapping(session, caller, mapping_sid)))


# Bot details


def _bot(request: Request, row: BotRow) -> dict[str, Any]:
    item, enterprise_name, email = row
    return render.bot(item, _box(request), enterprise_name=enterprise_name, email=email)


def _fields(body: BotBody) -> bots.BotFields:
    return bots.BotFields(
        application_id=body.application_id,
        tenant_id=body.tenant_id,
        client_secret=body.client_secret,
        bot_app_id=body.bot_app_id,
        enterprise_sid=body.enterprise_sid,
    )


@bot_router.post("/teamsbot", openapi_extra=body_openapi(BotBody))
@bot_router.post("/teamsbot/details", openapi_extra=body_openapi(BotBody))
async def create_bot(
    request: Request, session: DBSession, caller: CurrentAccount, body: Annotated[BotBody, Depends(body_of(BotBody))]
) -> Response:
    return render.ok(_bot(request, await bots.create_bot(session, _box(request), caller, _fields(body))))


@bot_router.put("/teamsbot/{bot_sid}", openapi_extra=body_openapi(BotBody))
@bot_router.put("/teamsbot/details/{bot_sid}", openapi_extra=body_openapi(BotBody))
@bot_router.post("/teamsbot/details/{bot_sid}", openapi_extra=body_openapi(BotBody))
async def update_bot(
    bot_sid: str,
    request: Request,
    session: DBSession,
    caller: CurrentAccount,
    body: Annotated[BotBody, Depends(body_of(BotBody))],
) -> Response:
    return render.ok(_bot(request, await bots.update_bot(session, _box(request), caller, bot_sid, _fields(body))))


@bot_router.delete("/teamsbot/{bot_sid}")
@bot_router.delete("/teamsbot/details/{bot_sid}")
async def delete_bot(bot_sid: str, request: Request, session: DBSession, caller: CurrentAccount) -> Response:
    return render.ok(_bot(request, await bots.delete_bot(session, caller, bot_sid)))


@bot_router.get("/teamsbot/search")
@bot_router.get("/teamsbot/details/search")
@bot_router.get("/teamsbot/search/", include_in_schema=False)
@bot_router.get("/teamsbot/details/search/", include_in_schema=False)
async def list_bots(
    request: Request,
    session: DBSession,
    caller: CurrentAccount,
    paging: Paging,
    sort_by: SortBy = None,
    sort_by_upper: SortByUpper = None,
    enterprise_sid: EnterpriseSid = None,
    enterprise_sid_lower: EnterpriseSidLower = None,
    start_time: StartTime = None,
    end_time: EndTime = None,
) -> Response:
    start, end = _times(start_time, end_time)
    query = bots.BotQuery(
        page=paging,
        sort=_sort(sort_by, sort_by_upper, BOT_SORTS, "dateCreated"),
        flt=BotFilter(
            lineage=caller.lineage,
            enterprise_sid=optional(enterprise_sid) or optional(enterprise_sid_lower),
            start=start,
            end=end,
        ),
    )
    total, rows = await bots.list_bots(session, query)
    items = [_bot(request, row) for row in rows]
    return render.page(paging, total, items, uri=_list_path(request), query=_query(request))


@bot_router.get("/teamsbot/search/{bot_sid}")
@bot_router.get("/teamsbot/details/search/{bot_sid}")
async def get_bot(bot_sid: str, request: Request, session: DBSession, caller: CurrentAccount) -> Response:
    return render.ok(_bot(request, await bots.get_bot(session, caller, bot_sid)))


# Message records


@router.get("/messages/search")
@router.get("/messages/search/", include_in_schema=False)
async def list_records(
    request: Request,
    session: DBSession,
    caller: CurrentAccount,
    paging: Paging,
    sort_by: SortBy = None,
    sort_by_upper: SortByUpper = None,
    enterprise_sid: EnterpriseSid = None,
    enterprise_sid_lower: EnterpriseSidLower = None,
    start_time: StartTime = None,
    end_time: EndTime = None,
    type_: Annotated[Opt, Query(alias="type", description="SMS or MMS.")] = None,
    direction: Annotated[Opt, Query(description="INBOUND or OUTBOUND.")] = None,
    from_: Annotated[Opt, Query(alias="from", description="From begins with this (number or Teams id).")] = None,
    to: Annotated[Opt, Query(description="To begins with this (number or Teams id).")] = None,
    channel_status: Annotated[Opt, Query(alias="channelStatus", description="Contains (any case).")] = None,
    channel_error_code: Annotated[Opt, Query(alias="channelErrorCode", description="Contains.")] = None,
    channel_error_message: Annotated[Opt, Query(alias="channelErrorMessage", description="Contains.")] = None,
) -> Response:
    start, end = _times(start_time, end_time)
    flt = RecordFilter(
        channel=CHANNEL,
        lineage=caller.lineage,
        group_sid=optional(enterprise_sid) or optional(enterprise_sid_lower),
        start=start,
        end=end,
        to=_prefix(to),
        from_=_prefix(from_),
        direction=one_of(direction, DIRECTIONS, "direction"),
        type=one_of(type_, TYPES, "type"),
        channel_status=optional(channel_status),
        channel_error_code=optional(channel_error_code),
        channel_error_message=optional(channel_error_message),
    )
    query = service.RecordQuery(page=paging, sort=_sort(sort_by, sort_by_upper, RECORD_SORTS, "dateCreated"), flt=flt)
    total, rows = await service.list_records(session, query)
    items = [render.record(item) for item in rows]
    return render.page(paging, total, items, uri=_list_path(request), query=_query(request))


def _prefix(value: str | None) -> str | None:
    """A "begins with" filter: the shared address filter with a trailing ``%`` (its own ``%`` kept)."""
    text = optional(value)
    if text is None:
        return None
    return text if text.endswith("%") else f"{text}%"


@router.get("/messages/search/{message_sid}")
async def get_record(message_sid: str, session: DBSession, caller: CurrentAccount) -> Response:
    return render.ok(render.record(await service.get_record(session, caller, message_sid)))


routers = [router, bridge_router, APIRouter(prefix="/msteams"), APIRouter(prefix="/mxteams")]
routers[2].include_router(bot_router)
routers[3].include_router(bot_router)
