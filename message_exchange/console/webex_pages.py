"""Webex enterprises, their mappings and the account's Webex bot settings — through the Webex services."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.responses import RedirectResponse, Response

from message_exchange.console.deps import Console, SignedIn
from message_exchange.console.forms import Problem, page_request, pager, status_of
from message_exchange.core.errors import MXError, NotFound
from message_exchange.core.sorting import Sort
from message_exchange.webex import bot as webex_bot
from message_exchange.webex import render, service
from message_exchange.webex.errors import WebexError
from message_exchange.webex.repository import EnterpriseFilter, MappingFilter

router = APIRouter(prefix="/console/webex", include_in_schema=False)
NOT_FOUND_CODES = ("471", "478", "481", "485", "491", "467")


def _not_found(error: MXError) -> MXError:
    if isinstance(error, WebexError) and str(error.code) in NOT_FOUND_CODES:
        return NotFound(error.message)
    return error


async def _bot(console: Console) -> dict[str, Any] | None:
    try:
        found = await webex_bot.get_bot(console.db, console.user)
    except NotFound:
        return None
    app = console.request.app
    return webex_bot.bot_resource(found, app.state.secret_box, app.state.settings)


async def _list(console: Console, name: str, page: str | None, **values: Any) -> dict[str, Any]:
    request = page_request(page)
    query = service.EnterpriseQuery(
        page=request, sort=Sort("name", False), flt=EnterpriseFilter(lineage=console.user.lineage, name=name or None)
    )
    total, rows = await service.list_enterprises(console.db, query)
    return {
        "items": [render.enterprise(e, mappings=count, email=email) for e, count, email in rows],
        "paging": pager(request, total),
        "name": name,
        "bot": await _bot(console),
        "problem": None,
        "bot_problem": None,
        "bot_url": "",
        "new": {},
        **values,
    }


@router.get("/enterprises")
async def enterprises(
    console: SignedIn,
    name: Annotated[str, Query()] = "",
    page: Annotated[str | None, Query()] = None,
    saved: Annotated[str | None, Query()] = None,
) -> Response:
    if saved:
        console.flash.append("Saved.")
    return console.render("webex_enterprises.html", **await _list(console, name, page))


@router.post("/enterprises")
async def create_enterprise(console: SignedIn) -> Response:
    name = console.field("name")
    try:
        row = await service.create_enterprise(console.db, console.user, name or None)
    except MXError as exc:
        await console.rollback()
        values = await _list(console, "", None, problem=Problem.of(exc), new={"name": name})
        return console.render("webex_enterprises.html", status_of(exc), **values)
    return console.finish(RedirectResponse(f"/console/webex/enterprises/{row[0].sid}?saved=1", status_code=303))


async def _detail(console: Console, sid: str, page: str | None = None, **values: Any) -> dict[str, Any]:
    try:
        enterprise, count, email = await service.get_enterprise(console.db, console.user, sid)
    except MXError as exc:
        raise _not_found(exc) from None
    request = page_request(page)
    query = service.MappingQuery(
        page=request,
        sort=Sort("name", False),
        flt=MappingFilter(lineage=console.user.lineage, enterprise_sid=sid, name=values.pop("search", None) or None),
    )
    total, rows = await service.list_mappings(console.db, query)
    return {
        "enterprise": render.enterprise(enterprise, mappings=count, email=email),
        "mappings": [render.mapping(m, enterprise_name=n, email=e) for m, n, e in rows],
        "paging": pager(request, total),
        "problem": None,
        "area": None,
        "new": {},
        **values,
    }


@router.get("/enterprises/{sid}")
async def enterprise(
    sid: str,
    console: SignedIn,
    name: Annotated[str, Query()] = "",
    page: Annotated[str | None, Query()] = None,
    saved: Annotated[str | None, Query()] = None,
) -> Response:
    if saved:
        console.flash.append("Saved.")
    return console.render("webex_enterprise.html", **await _detail(console, sid, page, search=name, name=name))


async def _failed(console: Console, sid: str, exc: MXError, area: str, new: dict[str, str] | None = None) -> Response:
    await console.rollback()
    values = await _detail(console, sid, problem=Problem.of(exc), area=area, new=new or {})
    return console.render("webex_enterprise.html", status_of(exc), **values)


@router.post("/enterprises/{sid}")
async def change_enterprise(sid: str, console: SignedIn) -> Response:
    try:
        if console.field("action") == "delete":
            if console.field("confirm") != "yes":
                return await _failed(
                    console,
                    sid,
                    MXError("Tick the confirmation to delete the enterprise.", status_code=400, param="confirm"),
                    "delete",
                )
            await service.delete_enterprise(console.db, console.user, sid)
            return console.finish(RedirectResponse("/console/webex/enterprises", status_code=303))
        await service.update_enterprise(console.db, console.user, sid, console.field("name") or None)
    except MXError as exc:
        return await _failed(console, sid, exc, "enterprise")
    return console.finish(RedirectResponse(f"/console/webex/enterprises/{sid}?saved=1", status_code=303))


@router.post("/enterprises/{sid}/mappings")
async def create_mapping(sid: str, console: SignedIn) -> Response:
    new = {key: console.field(key) for key in ("webexAddress", "externalAddress", "name")}
    try:
        await service.create_mapping(
            console.db,
            console.user,
            sid,
            service.NewMapping(
                webex_address=new["webexAddress"] or None,
                external_address=new["externalAddress"] or None,
                name=new["name"] or None,
            ),
        )
    except MXError as exc:
        return await _failed(console, sid, exc, "mapping", new)
    return console.finish(RedirectResponse(f"/console/webex/enterprises/{sid}?saved=1", status_code=303))


@router.post("/mappings/{mapping_sid}")
async def change_mapping(mapping_sid: str, console: SignedIn) -> Response:
    try:
        mapping, _name, _email = await service.get_mapping(console.db, console.user, mapping_sid)
    except MXError as exc:
        raise _not_found(exc) from None
    sid = mapping.enterprise_sid
    try:
        if console.field("action") == "delete":
            await service.delete_mapping(console.db, console.user, mapping_sid)
        else:
            await service.update_mapping(console.db, console.user, mapping_sid, console.field("name") or None)
    except MXError as exc:
        return await _failed(console, sid, exc, f"mapping:{mapping_sid}")
    return console.finish(RedirectResponse(f"/console/webex/enterprises/{sid}?saved=1", status_code=303))


# The account's Webex bot


@router.post("/bot")
async def save_bot(console: SignedIn) -> Response:
    """Save (or replace) the bot: Webex checks the token and takes the webhook, or nothing is stored."""
    app = console.request.app
    settings = app.state.settings
    if console.field("action") == "delete":
        try:
            await webex_bot.delete_bot(console.db, app.state.secret_box, console.user, settings)
        except MXError as exc:
            await console.rollback()
            return console.render(
                "webex_enterprises.html", status_of(exc), **await _list(console, "", None, bot_problem=Problem.of(exc))
            )
        return console.finish(RedirectResponse("/console/webex/enterprises", status_code=303))
    public_url = console.field("publicUrl") or settings.public_url or str(console.request.base_url).rstrip("/")
    try:
        await webex_bot.save_bot(
            console.db,
            app.state.secret_box,
            console.user,
            access_token=console.field("accessToken") or None,
            webhook_secret=console.field("webhookSecret") or None,
            public_url=public_url,
            settings=settings,
        )
    except MXError as exc:
        await console.rollback()
        values = await _list(console, "", None, bot_problem=Problem.of(exc), bot_url=console.field("publicUrl"))
        return console.render("webex_enterprises.html", status_of(exc), **values)
    return console.finish(RedirectResponse("/console/webex/enterprises?saved=1", status_code=303))
