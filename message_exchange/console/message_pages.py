"""The message log (the Messages API's filters) and a message's detail: status timeline and callbacks.

The log lists the messages of the signed-in account, or of one of its sub-accounts
(``account``), through the Messages API's own filter parser and service, newest first
unless ``SortBy`` says otherwise. ``/console/records`` lists the Teams and Webex message records
(the exchanges' view of the same traffic) with the exchange APIs' filters; a business
customer's admin sees only its own business customer's Teams records.

The timeline is the message's creation (queued / received) and every status change after
it, as ``message_events`` recorded them (with the carrier that took it, or the error); the
callbacks follow, each with its HTTP attempts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.responses import Response

from message_exchange.accounts import service as accounts
from message_exchange.accounts.models import Account
from message_exchange.console.deps import Console, SignedIn
from message_exchange.console.forms import PAGE_SIZE, Problem, page_request, pager
from message_exchange.core.dates import parse_time_filter
from message_exchange.core.errors import BadRequest, MXError
from message_exchange.core.paging import PageRequest
from message_exchange.core.sorting import Sort
from message_exchange.exchange.repository import RecordFilter
from message_exchange.messages import service as messages
from message_exchange.messages.filters import query_from_params
from message_exchange.messages.models import Message, MessageEvent
from message_exchange.msteams import render as teams_render
from message_exchange.msteams import service as teams
from message_exchange.msteams.models import CHANNEL as TEAMS_CHANNEL
from message_exchange.webex import render as webex_render
from message_exchange.webex import service as webex
from message_exchange.webex.models import CHANNEL as WEBEX_CHANNEL
from message_exchange.webhooks import service as webhooks

router = APIRouter(prefix="/console/messages", include_in_schema=False)
FILTERS = ("To", "From", "StartTime", "EndTime", "Status", "ErrorCode", "Body", "SortBy")
STATUSES = ("queued", "sending", "sent", "delivered", "undelivered", "failed", "received")


async def _account(console: Console, sid: str | None) -> Account:
    """The signed-in account, or a sub-account of it (another tenant's → 404, as in the API)."""
    if not sid or sid == console.user.sid:
        return console.user
    return await accounts.get_visible(console.db, console.user, sid)


@router.get("")
async def message_log(
    console: SignedIn,
    account: Annotated[str | None, Query()] = None,
    page: Annotated[str | None, Query()] = None,
) -> Response:
    owner = await _account(console, account)
    params = {name: console.request.query_params.get(name, "").strip() for name in FILTERS}
    params = {name: value for name, value in params.items() if value}
    request = page_request(page)
    values: dict[str, Any] = {"filters": params, "account": owner.sid, "items": [], "paging": None, "problem": None}
    try:
        query = query_from_params(
            {
                **params,
                "SortBy": params.get("SortBy", "DateCreated:desc"),
                "Page": str(request.page),
                "PageSize": str(PAGE_SIZE),
            },
            owner.sid,
        )
        total, rows = await messages.list_messages(console.db, query)
        values["items"], values["paging"] = rows, pager(request, total)
    except MXError as exc:
        values["problem"] = Problem.of(exc)
    values["statuses"] = STATUSES
    _count, tree = await accounts.list_visible(
        console.db, console.user, accounts.AccountQuery(page=PageRequest(0, 200))
    )
    values["accounts"] = tree
    values["query"] = "".join(f"&{k}={v}" for k, v in params.items()) + (f"&account={owner.sid}" if account else "")
    return console.render("messages.html", 400 if values["problem"] else 200, **values)


@dataclass(frozen=True, slots=True)
class Step:
    status: str
    at: datetime
    note: str


def timeline(message: Message, events: list[MessageEvent]) -> list[Step]:
    steps = [
        Step(
            "received" if message.direction == "inbound" else "queued",
            message.date_created,
            f"created via {message.created_via}",
        )
    ]
    for event in events:
        if event.error_code is not None:
            note = f"error {event.error_code}: {event.error_message or ''}".strip()
        elif event.carrier:
            note = f"taken by carrier {event.carrier}"
        else:
            note = ""
        steps.append(Step(event.status, event.occurred_at, note))
    return steps


@router.get("/{sid}")
async def message_detail(sid: str, console: SignedIn, account: Annotated[str | None, Query()] = None) -> Response:
    owner = await _account(console, account)
    message = await messages.get_message(console.db, owner, sid)
    _total, deliveries = await webhooks.list_deliveries(
        console.db, console.user, owner.sid, webhooks.DeliveryQuery(page=PageRequest(0, 100), resource_sid=sid)
    )
    callbacks = []
    for delivery in reversed(deliveries):  # oldest first
        _delivery, attempts = await webhooks.get_delivery(console.db, console.user, owner.sid, delivery.sid)
        callbacks.append({"delivery": delivery, "attempts": attempts})
    events = await messages.message_history(console.db, owner, sid)
    return console.render(
        "message.html", message=message, steps=timeline(message, events), callbacks=callbacks, account=owner.sid
    )


# Exchange message records (Teams and Webex), with the exchange APIs' filters

records_router = APIRouter(prefix="/console/records", include_in_schema=False)
RECORD_FILTERS = ("direction", "type", "from", "to", "channelStatus", "enterpriseSid", "startTime", "endTime")
CHOICES = {"direction": ("INBOUND", "OUTBOUND"), "type": ("SMS", "MMS")}


def _begins_with(value: str | None) -> str | None:
    if not value:
        return None
    return value if value.endswith("%") else f"{value}%"


def record_filter(console: Console, channel: str, params: dict[str, str]) -> RecordFilter:
    """The exchange APIs' record filters from the page's fields (400 on a bad value, as the APIs)."""
    for name, allowed in CHOICES.items():
        value = params.get(name, "").upper()
        if value and value not in allowed:
            raise BadRequest(f"{name} must be one of {', '.join(allowed)}", param=name)
    start, end = params.get("startTime"), params.get("endTime")
    return RecordFilter(
        channel=TEAMS_CHANNEL if channel == "teams" else WEBEX_CHANNEL,
        lineage=console.user.lineage,
        group_sid=console.admin_of or params.get("enterpriseSid") or None,
        start=parse_time_filter(start, param="startTime", end_of_range=False) if start else None,
        end=parse_time_filter(end, param="endTime", end_of_range=True) if end else None,
        to=_begins_with(params.get("to")),
        from_=_begins_with(params.get("from")),
        direction=params.get("direction", "").upper() or None,
        type=params.get("type", "").upper() or None,
        channel_status=params.get("channelStatus") or None,
        address_lists=channel == "webex",
    )


@records_router.get("")
async def records(
    console: SignedIn,
    channel: Annotated[str, Query()] = "teams",
    page: Annotated[str | None, Query()] = None,
) -> Response:
    chosen = "webex" if channel == "webex" and not console.is_admin_view else "teams"
    params = {name: console.request.query_params.get(name, "").strip() for name in RECORD_FILTERS}
    params = {name: value for name, value in params.items() if value}
    request = page_request(page)
    values: dict[str, Any] = {"channel": chosen, "filters": params, "items": [], "paging": None, "problem": None}
    try:
        flt = record_filter(console, chosen, params)
        if chosen == "teams":
            total, rows = await teams.list_records(
                console.db, teams.RecordQuery(page=request, sort=Sort("dateCreated", True), flt=flt)
            )
            values["items"] = [teams_render.record(item) for item in rows]
        else:
            total, rows = await webex.list_records(
                console.db, webex.RecordQuery(page=request, sort=Sort("dateCreated", True), flt=flt)
            )
            values["items"] = [webex_render.record(item) for item in rows]
        values["paging"] = pager(request, total)
    except MXError as exc:
        values["problem"] = Problem.of(exc)
    values["query"] = f"&channel={chosen}" + "".join(f"&{k}={v}" for k, v in params.items())
    return console.render("records.html", 400 if values["problem"] else 200, **values)
