"""Messaging API v1 over HTTP: the send endpoint, transaction status, short-link redirects
and the admin API (services, keys, templates, smart links, policy groups, consent).

- ``POST /resources/v1/messaging`` (header ``key``): answers HTTP 200 with
  ``{"response": [{code, transid, description, correlationid}, …]}`` or one error object
  ``{"response": {code, description, transid}}``, as the platform documents.
- ``GET /resources/v1/messaging/status/{transid}`` (header ``key``): the transaction's
  status, its notifications so far and its short links with their clicks.
- ``GET /l/{code}``: 302 to the smart link's target, counting the click (404 unknown,
  410 expired).
- ``/restcomm/2012-04-24/Accounts/{AC}/Connect/…``: the admin API (HTTP Basic, JSON
  bodies, Restcomm errors).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Query, Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from message_exchange.accounts import service as accounts
from message_exchange.accounts.deps import CurrentAccount
from message_exchange.config import Settings
from message_exchange.connect import codes, messaging, schemas
from message_exchange.connect import service as connect
from message_exchange.core.errors import MXError
from message_exchange.core.families import register_family
from message_exchange.core.rendering import JSONResponse
from message_exchange.db.session import DBSession

API_PREFIX = "/resources/v1/"


def connect_error(error: MXError, path: str) -> Response:
    """``{"response": {code, description, transid}}``: HTTP 200 for the API's own codes."""
    body = {"response": {"code": str(error.code), "description": error.message, "transid": str(uuid.uuid4())}}
    return JSONResponse(body, status_code=error.status_code, headers=error.headers)


register_family(API_PREFIX, connect_error)

router = APIRouter(tags=["messaging api v1"])
admin = APIRouter(prefix="/restcomm/2012-04-24/Accounts/{account_sid:sid}/Connect", tags=["messaging api v1 admin"])

KeyHeader = Annotated[str | None, Header(alias="key", description="The service key.")]

SEND_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object", "description": "The Messaging API v1 body."}}},
    }
}


def link_base(settings: Settings, request: Request | None) -> str:
    """Where short links point: MX_CONNECT_LINK_BASE_URL, else this server as the client reached it."""
    if settings.connect_link_base_url:
        return settings.connect_link_base_url
    if request is not None:
        return str(request.base_url)
    return f"http://{settings.host}:{settings.port}"


@router.post("/resources/v1/messaging", summary="Send to up to 1,000 destinations", openapi_extra=SEND_OPENAPI)
async def send(request: Request, session: DBSession, key: KeyHeader = None) -> Response:
    service = await connect.service_for_key(session, key)
    raw = await request.body()
    if b"\\u0000" in raw:  # NUL is valid JSON but no database column can store it
        raise codes.ConnectError(codes.INVALID_VALUE, "Invalid parameters/Values: NUL characters are not allowed")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise codes.ConnectError(codes.INVALID_JSON, "Invalid JSON") from None
    accepted = await messaging.send(session, service, body, base_url=link_base(request.app.state.settings, request))
    return JSONResponse(
        {
            "response": [
                {"code": codes.QUEUED, "transid": a.transid, "description": "Queued", "correlationid": a.correlationid}
                for a in accepted
            ]
        }
    )


@router.get("/resources/v1/messaging/status/{transid}", summary="A transaction's status, notifications and links")
async def status(transid: str, request: Request, session: DBSession, key: KeyHeader = None) -> Response:
    service = await connect.service_for_key(session, key)
    found = await connect.transaction_status(session, service, transid)
    base = link_base(request.app.state.settings, request)
    return JSONResponse([schemas.transaction_status_resource(found, lambda code: connect.short_url(base, code))])


@router.get("/l/{code}", summary="Follow a smart link (counts the click)", tags=["messaging api v1"])
async def follow(code: str, session: DBSession) -> Response:
    result = await connect.click(session, code)  # a malformed code is a 404 without a lookup
    if result.target_url is None:
        return PlainTextResponse("This link has expired.", status_code=410)
    return RedirectResponse(result.target_url, status_code=302)


# -- admin ----------------------------------------------------------------------------------


@admin.post("/Services", status_code=201, summary="Create a service (its key is shown once)")
async def create_service(account_sid: str, request: Request, session: DBSession, caller: CurrentAccount) -> Response:
    account = await accounts.get_visible(session, caller, account_sid)
    body = await schemas.json_body(request, schemas.ServiceBody)
    service, key = await connect.create_service(
        session, account, connect.ServiceSpec(body.name, body.notify_url, body.sender_ids)
    )
    return JSONResponse(schemas.service_resource(service, key), status_code=201)


@admin.get("/Services", summary="List services")
async def list_services(account_sid: str, session: DBSession, caller: CurrentAccount) -> Response:
    account = await accounts.get_visible(session, caller, account_sid)
    services = await connect.list_services(session, account.sid)
    return JSONResponse({"services": [schemas.service_resource(s) for s in services]})


@admin.get("/Services/{sid}", summary="Get a service")
async def get_service(account_sid: str, sid: str, session: DBSession, caller: CurrentAccount) -> Response:
    return JSONResponse(schemas.service_resource(await connect.get_service(session, caller, account_sid, sid)))


@admin.post("/Services/{sid}", summary="Update a service (name, notify_url, sender_ids, status)")
async def update_service(
    account_sid: str, sid: str, request: Request, session: DBSession, caller: CurrentAccount
) -> Response:
    service = await connect.get_service(session, caller, account_sid, sid)
    body = await schemas.json_body(request, schemas.ServiceBody)
    spec = connect.ServiceSpec(body.name, body.notify_url, body.sender_ids, body.status)
    return JSONResponse(schemas.service_resource(await connect.update_service(session, service, spec)))


@admin.post("/Services/{sid}/Key", summary="Rotate the service key (the old one stops working)")
async def rotate_key(account_sid: str, sid: str, session: DBSession, caller: CurrentAccount) -> Response:
    service = await connect.get_service(session, caller, account_sid, sid)
    key = await connect.rotate_key(session, service)
    return JSONResponse(schemas.service_resource(service, key))


@admin.put("/Services/{sid}/Templates/{template_id}", summary="Create or replace a template")
async def put_template(
    account_sid: str, sid: str, template_id: str, request: Request, session: DBSession, caller: CurrentAccount
) -> Response:
    service = await connect.get_service(session, caller, account_sid, sid)
    body = await schemas.json_body(request, schemas.TemplateBody)
    return JSONResponse(schemas.template_resource(await connect.put_template(session, service, template_id, body.text)))


@admin.get("/Services/{sid}/Templates", summary="List templates")
async def list_templates(account_sid: str, sid: str, session: DBSession, caller: CurrentAccount) -> Response:
    service = await connect.get_service(session, caller, account_sid, sid)
    return JSONResponse(
        {"templates": [schemas.template_resource(t) for t in await connect.templates(session, service)]}
    )


@admin.delete("/Services/{sid}/Templates/{template_id}", status_code=204, summary="Delete a template")
async def delete_template(
    account_sid: str, sid: str, template_id: str, session: DBSession, caller: CurrentAccount
) -> Response:
    service = await connect.get_service(session, caller, account_sid, sid)
    await connect.delete_template(session, service, template_id)
    return Response(status_code=204)


@admin.put("/Services/{sid}/SmartLinks/{link_id}", summary="Create or replace a smart link definition")
async def put_link(
    account_sid: str, sid: str, link_id: str, request: Request, session: DBSession, caller: CurrentAccount
) -> Response:
    service = await connect.get_service(session, caller, account_sid, sid)
    body = await schemas.json_body(request, schemas.LinkBody)
    return JSONResponse(schemas.link_definition_resource(await connect.put_link(session, service, link_id, body.url)))


@admin.get("/Services/{sid}/SmartLinks", summary="Smart links with short links made and clicks")
async def list_links(account_sid: str, sid: str, session: DBSession, caller: CurrentAccount) -> Response:
    service = await connect.get_service(session, caller, account_sid, sid)
    totals = await connect.link_totals(session, service)
    items = [
        schemas.link_definition_resource(d, totals.get(d.link_id, (0, 0)))
        for d in await connect.link_definitions(session, service)
    ]
    return JSONResponse({"smart_links": items})


@admin.get("/Services/{sid}/ShortLinks", summary="Short links (per destination) with their clicks")
async def list_short_links(
    account_sid: str,
    sid: str,
    request: Request,
    session: DBSession,
    caller: CurrentAccount,
    transid: Annotated[str | None, Query()] = None,
    link_id: Annotated[str | None, Query()] = None,
) -> Response:
    service = await connect.get_service(session, caller, account_sid, sid)
    base = link_base(request.app.state.settings, request)
    links = await connect.short_links(session, service, transid=transid, link_id=link_id)
    return JSONResponse(
        {"short_links": [schemas.short_link_resource(x, connect.short_url(base, x.code)) for x in links]}
    )


@admin.post("/PolicyGroups", status_code=201, summary="Create a contact policy group")
async def create_group(account_sid: str, request: Request, session: DBSession, caller: CurrentAccount) -> Response:
    account = await accounts.get_visible(session, caller, account_sid)
    body = await schemas.json_body(request, schemas.GroupBody)
    group = await connect.create_group(session, account, body.name, body.cap_count, body.cap_period_seconds)
    return JSONResponse(schemas.group_resource(group), status_code=201)


@admin.get("/PolicyGroups", summary="List contact policy groups")
async def list_groups(account_sid: str, session: DBSession, caller: CurrentAccount) -> Response:
    account = await accounts.get_visible(session, caller, account_sid)
    return JSONResponse({"policy_groups": [schemas.group_resource(g) for g in await connect.groups(session, account)]})


@admin.post("/PolicyGroups/{group_id}/Consents", status_code=201, summary="Record an opt-in or opt-out")
async def record_consent(
    account_sid: str, group_id: str, request: Request, session: DBSession, caller: CurrentAccount
) -> Response:
    account = await accounts.get_visible(session, caller, account_sid)
    group = await connect.get_group(session, account, group_id)
    body = await schemas.json_body(request, schemas.ConsentBody)
    record = await connect.record_consent(session, group, body.msisdn, body.consent, body.channel)
    return JSONResponse(schemas.consent_resource(record), status_code=201)


@admin.get("/PolicyGroups/{group_id}/Consents/{msisdn}", summary="A number's consent history; the last record decides")
async def consent_history(
    account_sid: str, group_id: str, msisdn: str, session: DBSession, caller: CurrentAccount
) -> Response:
    account = await accounts.get_visible(session, caller, account_sid)
    group = await connect.get_group(session, account, group_id)
    records = await connect.consent_history(session, group, msisdn)
    current = records[-1].consent if records else None
    return JSONResponse(
        {"msisdn": msisdn, "consent": current, "records": [schemas.consent_resource(r) for r in records]}
    )


routers = [router, admin]
