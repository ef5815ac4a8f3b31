"""Webhook deliveries, so a user can see every callback attempt.

``/restcomm/2012-04-24/Accounts/{AccountSid}/WebhookDeliveries[.json|.xml]`` (filters
``ResourceSid``, ``Purpose``, ``Status``; ``Page``/``PageSize``) and
``…/WebhookDeliveries/{Sid}[.json|.xml]`` with its ``attempt_list``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from message_exchange.accounts.deps import CurrentAccount
from message_exchange.accounts.schemas import API_BASE
from message_exchange.core.errors import BadRequest
from message_exchange.core.paging import Page, parse_page_request, render_page
from message_exchange.core.rendering import parse_format, render_resource
from message_exchange.db.session import DBSession
from message_exchange.webhooks import service
from message_exchange.webhooks.models import DeliveryStatus
from message_exchange.webhooks.schemas import deliveries_uri, delivery_resource

router = APIRouter(prefix=API_BASE, tags=["webhooks"])

_STATUSES = tuple(s.value for s in DeliveryStatus)


@router.get(
    "/Accounts/{account_sid:sid}/WebhookDeliveries{fmt:fmt}",
    summary="List an account's webhook deliveries (status callbacks, inbound webhooks), newest first",
)
async def list_deliveries(
    account_sid: str,
    fmt: str,
    request: Request,
    session: DBSession,
    caller: CurrentAccount,
    resource_sid: Annotated[
        str | None, Query(alias="ResourceSid", description="Only those about this resource (e.g. a message sid)")
    ] = None,
    purpose: Annotated[str | None, Query(alias="Purpose", description="e.g. status_callback")] = None,
    status: Annotated[str | None, Query(alias="Status", description="pending, delivered or failed")] = None,
    page: Annotated[str | None, Query(alias="Page")] = None,
    page_size: Annotated[str | None, Query(alias="PageSize")] = None,
) -> Response:
    params = request.query_params
    if status is not None and status not in _STATUSES:
        raise BadRequest(f"Status must be one of {', '.join(_STATUSES)}", param="Status")
    query = service.DeliveryQuery(
        page=parse_page_request(params), resource_sid=resource_sid or None, purpose=purpose or None, status=status
    )
    total, deliveries = await service.list_deliveries(session, caller, account_sid, query)
    return render_page(
        parse_format(fmt),
        Page(request=query.page, total=total, items=[delivery_resource(d) for d in deliveries]),
        uri=f"{deliveries_uri(account_sid)}{fmt or '.json'}",
        query=params.multi_items(),
        list_key="webhook_deliveries",
        list_tag="WebhookDeliveries",
        item_tag="WebhookDelivery",
    )


@router.get(
    "/Accounts/{account_sid:sid}/WebhookDeliveries/{sid:sid}{fmt:fmt}",
    summary="Get a webhook delivery with every attempt",
)
async def get_delivery(account_sid: str, sid: str, fmt: str, session: DBSession, caller: CurrentAccount) -> Response:
    delivery, attempts = await service.get_delivery(session, caller, account_sid, sid)
    return render_resource(parse_format(fmt), "WebhookDelivery", delivery_resource(delivery, attempts))
