"""A tiny FastAPI app wired like the real one: the real middleware, exception handlers,
``{fmt:fmt}``/``{sid:sid}`` convertors, renderers, paging, date and sort parsing.

It does not depend on ``message_exchange.app`` or any domain: these tests pin the shared
conventions themselves.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import structlog
from fastapi import FastAPI, Request
from starlette.responses import Response

import message_exchange.core.params  # noqa: F401  (registers the lazy ``sid`` convertor)
from message_exchange.core import families
from message_exchange.core.dates import parse_time_filter, rfc2822
from message_exchange.core.errors import BadRequest, NotFound, Unauthorized
from message_exchange.core.families import install_exception_handlers
from message_exchange.core.logging import configure_logging, get_logger
from message_exchange.core.middleware import BodyLimitMiddleware, RequestContextMiddleware
from message_exchange.core.paging import Page, ensure_page_exists, parse_page_request, render_page
from message_exchange.core.rendering import parse_format, render_resource
from message_exchange.core.sorting import Sort, parse_sort

BODY_LIMIT = 1024
EPOCH = datetime(2022, 5, 10, 12, 0, tzinfo=UTC)


def make_things(count: int) -> list[dict[str, Any]]:
    """``count`` records: sids in creation order, every third one to a +44 number."""
    return [
        {
            "sid": f"TH{index:032x}",
            "friendly_name": f"thing {count - index:03d}",
            "to": f"+44700900{index:04d}" if index % 3 == 0 else f"+1555000{index:04d}",
            "date_created": EPOCH + timedelta(hours=index),
        }
        for index in range(count)
    ]


def _public(thing: dict[str, Any]) -> dict[str, Any]:
    return {**thing, "date_created": rfc2822(thing["date_created"])}


def build_app(things: list[dict[str, Any]] | None = None, *, max_body: int = BODY_LIMIT) -> FastAPI:
    app = FastAPI()
    install_exception_handlers(app)
    stored = make_things(23) if things is None else things
    log = get_logger("tests.core.endpoint")

    @app.get("/restcomm/Things{fmt:fmt}")
    async def list_things(fmt: str, request: Request) -> Response:
        params = request.query_params
        page_request = parse_page_request(params)
        sort = parse_sort(params.get("SortBy"), ("DateCreated", "FriendlyName"), default=Sort("DateCreated", False))
        selected = list(stored)
        if (to := params.get("To")) is not None:
            selected = [t for t in selected if t["to"].startswith(to.rstrip("%"))]
        if (start := params.get("StartTime")) is not None:
            since = parse_time_filter(start, param="StartTime", end_of_range=False)
            selected = [t for t in selected if t["date_created"] >= since]
        if (end := params.get("EndTime")) is not None:
            until = parse_time_filter(end, param="EndTime", end_of_range=True)
            selected = [t for t in selected if t["date_created"] <= until]
        key = "date_created" if sort.attribute == "DateCreated" else "friendly_name"
        selected.sort(key=lambda t: t[key], reverse=sort.descending)
        ensure_page_exists(page_request, len(selected))
        window = selected[page_request.offset : page_request.offset + page_request.page_size]
        return render_page(
            parse_format(fmt),
            Page(request=page_request, total=len(selected), items=[_public(t) for t in window]),
            uri=f"/restcomm/Things{fmt or '.json'}",
            query=list(params.multi_items()),
            list_key="things",
            list_tag="Things",
            item_tag="Thing",
        )

    @app.get("/restcomm/Things/{sid:sid}{fmt:fmt}")
    async def get_thing(sid: str, fmt: str) -> Response:
        log.info("looking up", sid=sid)
        for thing in stored:
            if thing["sid"] == sid:
                return render_resource(parse_format(fmt), "Thing", {**_public(thing), "seen_fmt": fmt})
        raise NotFound(f"Thing {sid} not found")

    @app.post("/restcomm/Things{fmt:fmt}")
    async def echo_body(fmt: str, request: Request) -> Response:
        body = await request.body()
        return render_resource(
            parse_format(fmt),
            "Echo",
            {"length": len(body), "sha256": hashlib.sha256(body).hexdigest()},
            status_code=201,
        )

    @app.get("/restcomm/Secret{fmt:fmt}")
    async def secret(fmt: str) -> Response:
        raise Unauthorized()

    @app.get("/restcomm/Typed{fmt:fmt}")
    async def typed(fmt: str, count: int) -> Response:
        return render_resource(parse_format(fmt), "Typed", {"count": count})

    @app.get("/restcomm/Boom{fmt:fmt}")
    async def boom(fmt: str) -> Response:
        raise RuntimeError("secret internals /etc/passwd")

    @app.post("/2010-04-01/Accounts/{sid:sid}/Messages{fmt:fmt}")
    async def twilio_send(sid: str, fmt: str) -> Response:
        raise BadRequest("The 'To' number is not a valid phone number.", code=21211, param="To")

    @app.get("/2010-04-01/Accounts/{sid:sid}{fmt:fmt}")
    async def twilio_account(sid: str, fmt: str) -> Response:
        raise Unauthorized()

    app.add_middleware(BodyLimitMiddleware, max_bytes=max_body)
    app.add_middleware(RequestContextMiddleware)
    return app


def client_for(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
def core_app() -> FastAPI:
    return build_app()


@pytest.fixture
async def core_client(core_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(core_app) as http:
        yield http


@pytest.fixture
def restore_families() -> Any:
    """Undo any ``register_family`` a test makes (the registry is process-wide)."""
    saved = list(families._FAMILIES)
    yield
    families._FAMILIES[:] = saved


@pytest.fixture(autouse=True)
def production_logging() -> Iterator[None]:
    """structlog set up as in production (stdlib routing, plain tracebacks), output left to pytest.

    Unconfigured structlog renders tracebacks with rich, which takes seconds per error.
    """
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    saved_config = structlog.get_config()
    access_disabled = logging.getLogger("uvicorn.access").disabled
    configure_logging("INFO", json=True)
    root.handlers[:] = saved_handlers
    yield
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)
    logging.getLogger("uvicorn.access").disabled = access_disabled
    structlog.configure(**saved_config)
