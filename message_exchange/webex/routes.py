"""Webex exchange management API: enterprises, mappings, message records, usage records.

Every route is served under ``/webex`` and under ``/webexteams``: the document itself uses
both roots (``PUT /webexteams/enterprise/{id}``, ``GET /webexteams/enterprise/usage/records/daily``
beside ``/webex/enterprise/…``), so either root works for every resource.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from message_exchange.accounts.deps import CurrentAccount
from message_exchange.accounts.models import Account
from message_exchange.core.dates import parse_time_filter
from message_exchange.core.families import register_family
from message_exchange.core.paging import PageRequest, parse_page_request
from message_exchange.core.params import body_of, body_openapi
from message_exchange.core.sorting import Sort, parse_sort
from message_exchange.db.base import utcnow
from message_exchange.db.session import DBSession
from message_exchange.exchange.params import DIRECTIONS, TYPES, one_of, optional
from message_exchange.exchange.repository import RECORD_SORTS, RecordFilter
from message_exchange.exchange.usage import Granularity, UsageWindow, usage_window
from message_exchange.webex import render, service, usage
from message_exchange.webex.bot_routes import router as bot_router
from message_exchange.webex.errors import webex_error
from message_exchange.webex.models import CHANNEL
from message_exchange.webex.repository import ENTERPRISE_SORTS, MAPPING_SORTS, EnterpriseFilter, MappingFilter
from message_exchange.webex.schemas import EnterpriseBody, MappingBody, MappingUpdateBody

ROOTS = ("/webex", "/webexteams")
for _root in ROOTS:
    register_family(f"{_root}/", webex_error)

router = APIRouter(tags=["Webex exchange"])

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 1000

Opt = str | None


def _paging(
    page: Annotated[Opt, Query(description="Page number, from 0.")] = None,
    per_page: Annotated[Opt, Query(description="Records per page (default 10).")] = None,
    page_size: Annotated[Opt, Query(alias="pageSize", description="Same as per_page.")] = None,
) -> PageRequest:
    params = {"page": page or "", "per_page": per_page if per_page not in (None, "") else (page_size or "")}
    return parse_page_request(
        params, default_size=DEFAULT_PAGE_SIZE, max_size=MAX_PAGE_SIZE, page_param="page", size_param="per_page"
    )


Paging = Annotated[PageRequest, Depends(_paging)]
SortBy = Annotated[Opt, Query(alias="SortBy", description="<attribute>:<asc|desc>")]
StartTime = Annotated[Opt, Query(alias="startTime", description="Created on or after (ISO-8601, UTC).")]
EndTime = Annotated[Opt, Query(alias="endTime", description="Created on or before (ISO-8601, UTC).")]
AccountSid = Annotated[Opt, Query(alias="accountSid")]
EnterpriseSid = Annotated[Opt, Query(alias="enterpriseSid")]
StartDate = Annotated[Opt, Query(alias="startDate", description="YYYY-MM-DD or ±Ndays (GMT).")]
EndDate = Annotated[Opt, Query(alias="endDate", description="YYYY-MM-DD or ±Ndays (GMT).")]


def _times(start: str | None, end: str | None) -> tuple[datetime | None, datetime | None]:
    return (
        parse_time_filter(start, param="startTime", end_of_range=False) if start else None,
        parse_time_filter(end, param="endTime", end_of_range=True) if end else None,
    )


def _sort(value: str | None, allowed: dict[str, Any], default: str) -> Sort:
    return parse_sort(value, allowed, default=Sort(default, False), param="SortBy")


# Enterprises


@router.post("/enterprise", openapi_extra=body_openapi(EnterpriseBody))
async def create_enterprise(
    session: DBSession, caller: CurrentAccount, body: Annotated[EnterpriseBody, Depends(body_of(EnterpriseBody))]
) -> Response:
    item, count, email = await service.create_enterprise(session, caller, body.name)
    return render.ok(render.enterprise(item, mappings=count, email=email))


@router.put("/enterprise/{enterprise_sid}", openapi_extra=body_openapi(EnterpriseBody))
async def update_enterprise(
    enterprise_sid: str,
    session: DBSession,
    caller: CurrentAccount,
    body: Annotated[EnterpriseBody, Depends(body_of(EnterpriseBody))],
) -> Response:
    item, count, email = await service.update_enterprise(session, caller, enterprise_sid, body.name)
    return render.ok(render.enterprise(item, mappings=count, email=email))


@router.delete("/enterprise/{enterprise_sid}")
async def delete_enterprise(enterprise_sid: str, session: DBSession, caller: CurrentAccount) -> Response:
    item, count, email = await service.delete_enterprise(session, caller, enterprise_sid)
    return render.ok(render.enterprise(item, mappings=count, email=email))


@router.get("/enterprise/search")
async def list_enterprises(
    session: DBSession,
    caller: CurrentAccount,
    paging: Paging,
    sort_by: SortBy = None,
    name: Annotated[Opt, Query(description="Name contains (any case).")] = None,
    start_time: StartTime = None,
    end_time: EndTime = None,
    account_sid: AccountSid = None,
) -> Response:
    start, end = _times(start_time, end_time)
    query = service.EnterpriseQuery(
        page=paging,
        sort=_sort(sort_by, ENTERPRISE_SORTS, "name"),
        flt=EnterpriseFilter(
            lineage=caller.lineage, name=optional(name), start=start, end=end, account_sid=optional(account_sid)
        ),
    )
    total, rows = await service.list_enterprises(session, query)
    return render.page(paging, total, [render.enterprise(e, mappings=c, email=m) for e, c, m in rows])


@router.get("/enterprise/search/{enterprise_sid}")
async def get_enterprise(enterprise_sid: str, session: DBSession, caller: CurrentAccount) -> Response:
    item, count, email = await service.get_enterprise(session, caller, enterprise_sid)
    return render.ok(render.enterprise(item, mappings=count, email=email))


# Mappings


@router.post("/webexteams/mappings/{enterprise_sid}", openapi_extra=body_openapi(MappingBody))
async def create_mapping(
    enterprise_sid: str,
    session: DBSession,
    caller: CurrentAccount,
    body: Annotated[MappingBody, Depends(body_of(MappingBody))],
) -> Response:
    new = service.NewMapping(webex_address=body.webex_address, external_address=body.external_address, name=body.name)
    item, enterprise_name, email = await service.create_mapping(session, caller, enterprise_sid, new)
    return render.ok(render.mapping(item, enterprise_name=enterprise_name, email=email))


@router.put("/webexteams/mappings/{mapping_sid}", openapi_extra=body_openapi(MappingUpdateBody))
async def update_mapping(
    mapping_sid: str,
    session: DBSession,
    caller: CurrentAccount,
    body: Annotated[MappingUpdateBody, Depends(body_of(MappingUpdateBody))],
) -> Response:
    item, enterprise_name, email = await service.update_mapping(session, caller, mapping_sid, body.name)
    return render.ok(render.mapping(item, enterprise_name=enterprise_name, email=email))


@router.delete("/webexteams/mappings/{mapping_sid}")
async def delete_mapping(mapping_sid: str, session: DBSession, caller: CurrentAccount) -> Response:
    item, enterprise_name, email = await service.delete_mapping(session, caller, mapping_sid)
    return render.ok(render.mapping(item, enterprise_name=enterprise_name, email=email))


@router.get("/webexteams/mappings/search")
async def list_mappings(
    session: DBSession,
    caller: CurrentAccount,
    paging: Paging,
    sort_by: SortBy = None,
    enterprise_sid: EnterpriseSid = None,
    start_time: StartTime = None,
    end_time: EndTime = None,
    name: Annotated[Opt, Query(description="Name contains (any case).")] = None,
    webex_address: Annotated[Opt, Query(alias="webexAddress", description="webexAddress contains.")] = None,
    external_address: Annotated[Opt, Query(alias="externalAddress", description="externalAddress contains.")] = None,
    account_sid: AccountSid = None,
) -> Response:
    start, end = _times(start_time, end_time)
    query = service.MappingQuery(
        page=paging,
        sort=_sort(sort_by, MAPPING_SORTS, "name"),
        flt=MappingFilter(
            lineage=caller.lineage,
            enterprise_sid=optional(enterprise_sid),
            start=start,
            end=end,
            name=optional(name),
            webex_address=optional(webex_address),
            external_address=optional(external_address),
            account_sid=optional(account_sid),
        ),
    )
    total, rows = await service.list_mappings(session, query)
    return render.page(paging, total, [render.mapping(m, enterprise_name=n, email=e) for m, n, e in rows])


@router.get("/webexteams/mappings/search/{mapping_sid}")
async def get_mapping(mapping_sid: str, session: DBSession, caller: CurrentAccount) -> Response:
    item, enterprise_name, email = await service.get_mapping(session, caller, mapping_sid)
    return render.ok(render.mapping(item, enterprise_name=enterprise_name, email=email))


# Message records


def _record_filter(caller: Account, **values: Any) -> RecordFilter:
    # A group mapping's INBOUND records go to "ann@x.com,bob@x.com": `to=ann@x.com` finds them.
    return RecordFilter(channel=CHANNEL, lineage=caller.lineage, address_lists=True, **values)


@router.get("/webexteams/messages/search")
async def list_records(
    session: DBSession,
    caller: CurrentAccount,
    paging: Paging,
    sort_by: SortBy = None,
    enterprise_sid: EnterpriseSid = None,
    start_time: StartTime = None,
    end_time: EndTime = None,
    to: Annotated[Opt, Query(description="Sent to this number or Webex id (% wildcard).")] = None,
    from_: Annotated[Opt, Query(alias="from", description="Sent from this number or Webex id (% wildcard).")] = None,
    direction: Annotated[Opt, Query(description="INBOUND or OUTBOUND.")] = None,
    type_: Annotated[Opt, Query(alias="type", description="SMS or MMS.")] = None,
    channel_status: Annotated[Opt, Query(alias="channelStatus")] = None,
    channel_error_code: Annotated[Opt, Query(alias="channelErrorCode")] = None,
    channel_error_message: Annotated[Opt, Query(alias="channelErrorMessage")] = None,
    account_sid: AccountSid = None,
) -> Response:
    start, end = _times(start_time, end_time)
    flt = _record_filter(
        caller,
        account_sid=optional(account_sid),
        group_sid=optional(enterprise_sid),
        start=start,
        end=end,
        to=optional(to),
        from_=optional(from_),
        direction=one_of(direction, DIRECTIONS, "direction"),
        type=one_of(type_, TYPES, "type"),
        channel_status=optional(channel_status),
        channel_error_code=optional(channel_error_code),
        channel_error_message=optional(channel_error_message),
    )
    query = service.RecordQuery(page=paging, sort=_sort(sort_by, RECORD_SORTS, "dateCreated"), flt=flt)
    total, rows = await service.list_records(session, query)
    return render.page(paging, total, [render.record(item) for item in rows])


@router.get("/webexteams/messages/search/{message_sid}")
async def get_record(message_sid: str, session: DBSession, caller: CurrentAccount) -> Response:
    return render.ok(render.record(await service.get_record(session, caller, message_sid)))


# Usage records


def _window(subresource: str | None, start: str | None, end: str | None) -> UsageWindow:
    return usage_window(subresource, start=optional(start), end=optional(end), today=utcnow().date())


@router.get("/enterprise/usage/records")
@router.get("/enterprise/usage/records/{subresource}")
async def enterprise_usage(
    session: DBSession,
    caller: CurrentAccount,
    subresource: str | None = None,
    start_date: StartDate = None,
    end_date: EndDate = None,
    account_sid: AccountSid = None,
) -> Response:
    window = _window(subresource, start_date, end_date)
    if subresource is None:
        # The document contradicts itself here: its enterprise list example answers one record
        # per month, its mapping and message list examples one total. Each list answers as its
        # own example does (a month needs no new parameter, and a client summing gets the total).
        window = UsageWindow(Granularity.MONTH, window.start, window.end)
    records = await usage.enterprises(session, caller, window, account_sid=optional(account_sid))
    return render.ok([item.as_dict() for item in records])


@router.get("/webexteams/mappings/usage/records")
@router.get("/webexteams/mappings/usage/records/{subresource}")
async def mapping_usage(
    session: DBSession,
    caller: CurrentAccount,
    subresource: str | None = None,
    start_date: StartDate = None,
    end_date: EndDate = None,
    enterprise_sid: EnterpriseSid = None,
    enterprise_id: Annotated[Opt, Query(alias="enterpriseId", description="Same as enterpriseSid.")] = None,
    account_sid: AccountSid = None,
) -> Response:
    window = _window(subresource, start_date, end_date)
    records = await usage.mappings(
        session,
        caller,
        window,
        enterprise_sid=optional(enterprise_sid) or optional(enterprise_id),
        account_sid=optional(account_sid),
    )
    return render.ok([item.as_dict() for item in records])


@router.get("/webexteams/messages/usage/records")
@router.get("/webexteams/messages/usage/records/{subresource}")
async def message_usage(
    session: DBSession,
    caller: CurrentAccount,
    subresource: str | None = None,
    start_date: StartDate = None,
    end_date: EndDate = None,
    enterprise_sid: EnterpriseSid = None,
    enterprise_id: Annotated[Opt, Query(alias="enterpriseId", description="Same as enterpriseSid.")] = None,
    to: Annotated[Opt, Query()] = None,
    from_: Annotated[Opt, Query(alias="from")] = None,
    direction: Annotated[Opt, Query()] = None,
    type_: Annotated[Opt, Query(alias="type")] = None,
    channel_status: Annotated[Opt, Query(alias="channelStatus")] = None,
    account_sid: AccountSid = None,
) -> Response:
    window = _window(subresource, start_date, end_date)
    flt = _record_filter(
        caller,
        account_sid=optional(account_sid),
        group_sid=optional(enterprise_sid) or optional(enterprise_id),
        to=optional(to),
        from_=optional(from_),
        direction=one_of(direction, DIRECTIONS, "direction"),
        type=one_of(type_, TYPES, "type"),
        channel_status=optional(channel_status),
    )
    records = await usage.messages(session, flt, window)
    return render.ok([item.as_dict() for item in records])


routers = [APIRouter(prefix=root) for root in ROOTS]
for _prefixed in routers:
    _prefixed.include_router(router)
# The bot settings, webhook receiver and media links live under /webex only.
routers.append(bot_router)
