"""Teams business customers, their mappings and bot details — through the Teams exchange's services.

The business customer admin sees only its own business customer (the services' tenancy
rules decide, as for the API); only the CSP side creates business customers or changes
their status (the services answer 403 to the admin, shown on the page).
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query
from starlette.responses import RedirectResponse, Response

from message_exchange.console.deps import Console, SignedIn
from message_exchange.console.forms import Problem, page_request, pager, status_of
from message_exchange.core.errors import MXError, NotFound
from message_exchange.core.sorting import Sort
from message_exchange.msteams import bots, mappings, render, service
from message_exchange.msteams.errors import TeamsError
from message_exchange.msteams.models import EnterpriseStatus
from message_exchange.msteams.repository import BotFilter, EnterpriseFilter, MappingFilter

router = APIRouter(prefix="/console/teams", include_in_schema=False)
NOT_FOUND_CODES = ("4051", "480", "481")
# A status change that stops traffic needs the user's explicit confirmation.
CONFIRMATIONS = {
    "INACTIVE": "Suspends the admin account, stops every mapping both ways and tells the Teams users.",
    "CLOSED": (
        "Final: closes the admin account, deletes every mapping (releasing provisioned numbers) "
        "and tells the Teams users."
    ),
    "ACTIVE": "Restores the admin account and the mappings, and tells the Teams users.",
}


def _as_not_found(error: MXError) -> MXError:
    if isinstance(error, TeamsError) and str(error.code) in NOT_FOUND_CODES:
        return NotFound(error.message)
    return error


async def _enterprise_list(
    console: Console, name: str, status: str, page: str | None
) -> tuple[Any, list[dict[str, Any]]]:
    request = page_request(page)
    state = service.parse_status(status or None, tuple(EnterpriseStatus))
    query = service.EnterpriseQuery(
        page=request,
        sort=Sort("name", False),
        flt=EnterpriseFilter(lineage=console.user.lineage, name=name or None, status=state.value if state else None),
    )
    total, rows = await service.list_enterprises(console.db, query)
    items = [render.enterprise(item, email=email, admin_email=admin) for item, email, admin in rows]
    return pager(request, total), items


@router.get("/enterprises")
async def enterprises(
    console: SignedIn,
    name: Annotated[str, Query()] = "",
    status: Annotated[str, Query()] = "",
    page: Annotated[str | None, Query()] = None,
) -> Response:
    try:
        paging, items = await _enterprise_list(console, name, status, page)
    except MXError as exc:
        paging, items = None, []
        console.flash.append(Problem.of(exc).message)
    return console.render(
        "teams_enterprises.html", paging=paging, items=items, name=name, status=status, problem=None, new={}
    )


@router.post("/enterprises")
async def create_enterprise(console: SignedIn) -> Response:
    new = {key: console.field(key) for key in ("name", "status", "adminEmail", "adminPassword", "adminName")}
    admin = {"emailId": new["adminEmail"], "password": new["adminPassword"], "name": new["adminName"]}
    try:
        row = await service.create_enterprise(
            console.db,
            console.request.app.state.secret_box,
            console.user,
            service.NewEnterprise(
                name=new["name"] or None,
                status=new["status"] or None,
                enterprise_admin=orjson.dumps({k: v for k, v in admin.items() if v}).decode(),
            ),
        )
    except MXError as exc:
        await console.rollback()
        paging, items = await _enterprise_list(console, "", "", None)
        new.pop("adminPassword")
        return console.render(
            "teams_enterprises.html",
            status_of(exc),
            paging=paging,
            items=items,
            name="",
            status="",
            problem=Problem.of(exc),
            new=new,
        )
    return console.finish(RedirectResponse(f"/console/teams/enterprises/{row[0].sid}?created=1", status_code=303))


async def _detail(
    console: Console, sid: str, *, search: dict[str, str] | None = None, page: str | None = None, **values: Any
) -> dict[str, Any]:
    try:
        item, email, admin = await service.get_enterprise(console.db, console.user, sid)
    except MXError as exc:
        raise _as_not_found(exc) from None
    search = search or {}
    request = page_request(page)
    flt = MappingFilter(
        lineage=console.user.lineage,
        enterprise_sid=sid,
        name=search.get("name") or None,
        microsoft_address=search.get("microsoftAddress") or None,
        external_address=search.get("externalAddress") or None,
    )
    total, rows = await mappings.list_mappings(
        console.db, mappings.MappingQuery(page=request, sort=Sort("dateCreated", False), flt=flt)
    )
    _count, bot_rows = await bots.list_bots(
        console.db,
        bots.BotQuery(
            page=page_request(None, 1),
            sort=Sort("dateCreated", False),
            flt=BotFilter(lineage=console.user.lineage, enterprise_sid=sid),
        ),
    )
    box = console.request.app.state.secret_box
    bot = render.bot(bot_rows[0][0], box, enterprise_name=bot_rows[0][1], email=bot_rows[0][2]) if bot_rows else None
    return {
        "enterprise": render.enterprise(item, email=email, admin_email=admin),
        "mappings": [render.mapping(m, enterprise_name=n, email=e) for m, n, e in rows],
        "paging": pager(request, total),
        "search": search,
        "bot": bot,
        "confirmations": CONFIRMATIONS,
        "problem": None,
        "problem_area": None,
        "new": {},
        **values,
    }


@router.get("/enterprises/{sid}")
async def enterprise(
    sid: str,
    console: SignedIn,
    name: Annotated[str, Query()] = "",
    microsoftAddress: Annotated[str, Query()] = "",
    externalAddress: Annotated[str, Query()] = "",
    page: Annotated[str | None, Query()] = None,
    created: Annotated[str | None, Query()] = None,
) -> Response:
    search = {"name": name, "microsoftAddress": microsoftAddress, "externalAddress": externalAddress}
    values = await _detail(console, sid, search=search, page=page)
    if created:
        console.flash.append("Saved.")
    return console.render("teams_enterprise.html", **values)


async def _failed(console: Console, sid: str, exc: MXError, area: str, new: dict[str, str] | None = None) -> Response:
    await console.rollback()
    exc = _as_not_found(exc) if area == "load" else exc
    values = await _detail(console, sid, problem=Problem.of(exc), problem_area=area, new=new or {})
    return console.render("teams_enterprise.html", status_of(exc), **values)


@router.post("/enterprises/{sid}")
async def update_enterprise(sid: str, console: SignedIn) -> Response:
    name, status = console.field("name"), console.field("status").upper()
    if status in ("INACTIVE", "CLOSED") and console.field("confirm") != "yes":
        problem = Problem(f"Tick the confirmation to make the business customer {status}.", "400", "confirm")
        values = await _detail(console, sid, problem=problem, problem_area="status")
        return console.render("teams_enterprise.html", 400, **values)
    try:
        await service.update_enterprise(console.db, console.user, sid, name=name or None, status=status or None)
    except MXError as exc:
        return await _failed(console, sid, _as_not_found(exc), "enterprise")
    return console.finish(RedirectResponse(f"/console/teams/enterprises/{sid}?created=1", status_code=303))


@router.post("/enterprises/{sid}/mappings")
async def create_mapping(sid: str, console: SignedIn) -> Response:
    new = {key: console.field(key) for key in ("microsoftAddress", "externalAddress", "name")}
    app = console.request.app
    try:
        await mappings.create_mapping(
            console.db,
            app.state.secret_box,
            app.state.settings,
            console.user,
            mappings.NewMapping(
                microsoft_address=new["microsoftAddress"] or None,
                external_address=new["externalAddress"] or None,
                enterprise_sid=sid,
                name=new["name"] or None,
            ),
        )
    except MXError as exc:
        return await _failed(console, sid, exc, "mapping", new)
    return console.finish(RedirectResponse(f"/console/teams/enterprises/{sid}?created=1", status_code=303))


@router.post("/mappings/{mapping_sid}")
async def update_mapping(mapping_sid: str, console: SignedIn) -> Response:
    app = console.request.app
    try:
        current = await mappings.get_mapping(console.db, console.user, mapping_sid)
    except MXError as exc:
        raise _as_not_found(exc) from None
    sid = current[0].enterprise_sid
    try:
        if console.field("action") == "delete":
            await mappings.delete_mapping(console.db, console.user, mapping_sid)
        else:
            changes = mappings.MappingChanges(
                name=console.field("name") or None, microsoft_address=console.field("microsoftAddress") or None
            )
            await mappings.update_mapping(
                console.db, app.state.secret_box, app.state.settings, console.user, mapping_sid, changes
            )
    except MXError as exc:
        return await _failed(console, sid, exc, f"mapping:{mapping_sid}")
    return console.finish(RedirectResponse(f"/console/teams/enterprises/{sid}?created=1", status_code=303))


@router.post("/enterprises/{sid}/bot")
async def save_bot(sid: str, console: SignedIn) -> Response:
    box = console.request.app.state.secret_box
    fields = bots.BotFields(
        application_id=console.field("applicationId") or None,
        tenant_id=console.field("tenantId") or None,
        client_secret=console.field("clientSecret") or None,
        bot_app_id=console.field("botAppId") or None,
        enterprise_sid=sid,
    )
    existing = console.field("botSid")
    try:
        if existing and console.field("action") == "delete":
            await bots.delete_bot(console.db, console.user, existing)
        elif existing:
            await bots.update_bot(console.db, box, console.user, existing, fields)
        else:
            await bots.create_bot(console.db, box, console.user, fields)
    except MXError as exc:
        new = {k: console.field(k) for k in ("applicationId", "tenantId", "botAppId")}
        return await _failed(console, sid, exc, "bot", new)
    return console.finish(RedirectResponse(f"/console/teams/enterprises/{sid}?created=1", status_code=303))
