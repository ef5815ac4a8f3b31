"""Admin API for carriers (root accounts only), Restcomm family.

``/restcomm/2012-04-24/Carriers[.json|.xml]`` and ``/Carriers/{name or sid}`` manage carrier
connections; ``/CarrierRoutes`` and ``/CarrierRoutes/{sid}`` manage routing rules (a
separate collection, so no carrier name can shadow it). A root account is one with no
parent; any other caller gets 403. Passwords are write-only: every response masks them.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from message_exchange.accounts.deps import CurrentAccount
from message_exchange.accounts.models import Account
from message_exchange.carriers import service
from message_exchange.carriers.schemas import (
    API_BASE,
    ConnectionCreate,
    ConnectionUpdate,
    RouteCreate,
    connection_resource,
    route_resource,
)
from message_exchange.core.crypto import SecretBox
from message_exchange.core.errors import Forbidden
from message_exchange.core.paging import Page, parse_page_request, render_page
from message_exchange.core.params import body_of, body_openapi
from message_exchange.core.rendering import parse_format, render_resource
from message_exchange.db.session import DBSession

router = APIRouter(prefix=API_BASE, tags=["carriers"])

_CARRIERS = "/Carriers{fmt:fmt}"
_CARRIER = "/Carriers/{name:sid}{fmt:fmt}"
_ROUTES = "/CarrierRoutes{fmt:fmt}"
_ROUTE = "/CarrierRoutes/{sid:sid}{fmt:fmt}"


async def _root(caller: CurrentAccount) -> Account:
    if caller.parent_sid is not None:
        raise Forbidden("Only a root account (one with no parent) may manage carriers")
    return caller


RootAccount = Annotated[Account, Depends(_root)]


def _box(request: Request) -> SecretBox:
    box: SecretBox = request.app.state.secret_box
    return box


@router.get(_CARRIERS, summary="List carrier connections (root accounts only)")
async def list_carriers(fmt: str, request: Request, session: DBSession, _caller: RootAccount) -> Response:
    page_request = parse_page_request(request.query_params)
    total, rows = await service.list_connections(session, page_request)
    return render_page(
        parse_format(fmt),
        Page(request=page_request, total=total, items=[connection_resource(row) for row in rows]),
        uri=f"{API_BASE}/Carriers{fmt or '.json'}",
        query=request.query_params.multi_items(),
        list_key="carriers",
        list_tag="Carriers",
        item_tag="Carrier",
    )


@router.post(
    _CARRIERS,
    summary="Add a carrier connection (unique Name: 409 when taken)",
    status_code=201,
    openapi_extra=body_openapi(ConnectionCreate),
)
async def create_carrier(
    fmt: str,
    request: Request,
    session: DBSession,
    _caller: RootAccount,
    body: Annotated[ConnectionCreate, Depends(body_of(ConnectionCreate))],
) -> Response:
    row = await service.create_connection(session, _box(request), {"name": body.name, **body.values()})
    return render_resource(parse_format(fmt), "Carrier", connection_resource(row), 201)


@router.get(_ROUTES, summary="List carrier routes (root accounts only)")
async def list_routes(fmt: str, request: Request, session: DBSession, _caller: RootAccount) -> Response:
    page_request = parse_page_request(request.query_params)
    total, routes = await service.list_routes(session, page_request)
    return render_page(
        parse_format(fmt),
        Page(request=page_request, total=total, items=[route_resource(route) for route in routes]),
        uri=f"{API_BASE}/CarrierRoutes{fmt or '.json'}",
        query=request.query_params.multi_items(),
        list_key="carrier_routes",
        list_tag="CarrierRoutes",
        item_tag="CarrierRoute",
    )


@router.post(
    _ROUTES,
    summary="Add a carrier route (channel, destination prefix, priority → carrier)",
    status_code=201,
    openapi_extra=body_openapi(RouteCreate),
)
async def create_route(
    fmt: str,
    session: DBSession,
    _caller: RootAccount,
    body: Annotated[RouteCreate, Depends(body_of(RouteCreate))],
) -> Response:
    route = await service.add_route(
        session, carrier=body.carrier, prefix=body.prefix, channel=body.channel, priority=body.priority
    )
    return render_resource(parse_format(fmt), "CarrierRoute", route_resource(route), 201)


@router.get(_ROUTE, summary="Get a carrier route")
async def get_route(sid: str, fmt: str, session: DBSession, _caller: RootAccount) -> Response:
    return render_resource(parse_format(fmt), "CarrierRoute", route_resource(await service.get_route(session, sid)))


@router.delete(_ROUTE, summary="Remove a carrier route", status_code=204)
async def delete_route(sid: str, fmt: str, session: DBSession, _caller: RootAccount) -> Response:
    await service.remove_route(session, await service.get_route(session, sid))
    return Response(status_code=204)


@router.get(_CARRIER, summary="Get a carrier connection by name or sid")
async def get_carrier(name: str, fmt: str, session: DBSession, _caller: RootAccount) -> Response:
    row = await service.get_connection(session, name)
    return render_resource(parse_format(fmt), "Carrier", connection_resource(row))


_UPDATE_SUMMARY = "Update a carrier connection (only the parameters given change; running connectors reload)"


_UPDATE_BODY = body_openapi(ConnectionUpdate)


@router.put(_CARRIER, summary=_UPDATE_SUMMARY, openapi_extra=_UPDATE_BODY, operation_id="update_carrier_put")
@router.post(_CARRIER, summary=_UPDATE_SUMMARY, openapi_extra=_UPDATE_BODY, operation_id="update_carrier")
async def update_carrier(
    name: str,
    fmt: str,
    request: Request,
    session: DBSession,
    _caller: RootAccount,
    body: Annotated[ConnectionUpdate, Depends(body_of(ConnectionUpdate))],
) -> Response:
    row = await service.get_connection(session, name)
    row = await service.update_connection(session, _box(request), row, body.values())
    return render_resource(parse_format(fmt), "Carrier", connection_resource(row))


@router.delete(_CARRIER, summary="Remove a carrier connection (409 while routes use it)", status_code=204)
async def delete_carrier(name: str, fmt: str, session: DBSession, _caller: RootAccount) -> Response:
    await service.remove_connection(session, await service.get_connection(session, name))
    return Response(status_code=204)
