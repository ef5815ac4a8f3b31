"""Phone numbers (the account's own) and carriers with their live state (root accounts only, as in the API)."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Query
from prometheus_client import REGISTRY
from starlette.responses import RedirectResponse, Response

from message_exchange.carriers import registry
from message_exchange.carriers import service as carriers
from message_exchange.console.deps import Console, SignedIn
from message_exchange.console.forms import Problem, page_request, pager, status_of
from message_exchange.core.errors import Forbidden, MXError
from message_exchange.core.paging import PageRequest
from message_exchange.numbers import service as numbers

router = APIRouter(prefix="/console", include_in_schema=False)


# Phone numbers


async def _numbers(console: Console, search: str, page: str | None, **values: Any) -> dict[str, Any]:
    request = page_request(page)
    query = numbers.NumberQuery(page=request, phone_number=search or None)
    try:
        total, rows = await numbers.list_numbers(console.db, console.user, query)
    except MXError:
        total, rows = 0, []
    return {"items": rows, "paging": pager(request, total), "search": search, "problem": None, "new": {}, **values}


@router.get("/numbers")
async def number_list(
    console: SignedIn, number: Annotated[str, Query()] = "", page: Annotated[str | None, Query()] = None
) -> Response:
    return console.render("numbers.html", **await _numbers(console, number, page))


@router.post("/numbers")
async def add_number(console: SignedIn) -> Response:
    new = {key: console.field(key) for key in ("phoneNumber", "friendlyName", "smsUrl")}
    try:
        await numbers.add_number(
            console.db,
            console.user,
            numbers.NewNumber(
                new["phoneNumber"], friendly_name=new["friendlyName"] or None, sms_url=new["smsUrl"] or None
            ),
        )
    except MXError as exc:
        await console.rollback()
        return console.render(
            "numbers.html", status_of(exc), **await _numbers(console, "", None, problem=Problem.of(exc), new=new)
        )
    return console.finish(RedirectResponse("/console/numbers", status_code=303))


# Carriers


def _require_root(console: Console) -> None:
    if not console.is_root:
        raise Forbidden("Carriers are managed by the operator's root account")


def _samples() -> dict[tuple[str, str], float]:
    """The carrier metrics of this process: (metric sample name, carrier) → value, summed over other labels."""
    wanted = (
        "mx_smpp_binds_up",
        "mx_smpp_window_in_use",
        "mx_smpp_submit_sm_total",
        "mx_smpp_errors_total",
        "mx_carrier_dispatches_total",
        "mx_carrier_up",
    )
    found: dict[tuple[str, str], float] = {}
    for family in REGISTRY.collect():
        for sample in family.samples:
            if sample.name in wanted and "carrier" in sample.labels:
                key = (sample.name, sample.labels["carrier"])
                if sample.name == "mx_smpp_submit_sm_total" and sample.labels.get("outcome") != "ok":
                    key = ("mx_smpp_submit_sm_failed", sample.labels["carrier"])
                found[key] = found.get(key, 0.0) + sample.value
    return found


async def _carrier_rows(console: Console) -> list[dict[str, Any]]:
    _total, rows = await carriers.list_connections(console.db, PageRequest(0, 1000))
    running = registry.current()
    samples = _samples()
    now = time.monotonic()
    state = console.request.app.state
    previous: dict[str, tuple[float, float]] = getattr(state, "console_submit_samples", {})
    current: dict[str, tuple[float, float]] = {}
    result = []
    for row in rows:
        ok = samples.get(("mx_smpp_submit_sm_total", row.name), 0.0)
        current[row.name] = (now, ok)
        before = previous.get(row.name)
        rate = (ok - before[1]) / (now - before[0]) if before and now > before[0] else None
        carrier = running.get(row.name) if running else None
        result.append(
            {
                "row": row,
                "running": carrier is not None,
                "up": bool(carrier and carrier.is_up()),
                "elsewhere": bool(running and running.up_elsewhere(row.name)),
                "binds_up": int(samples.get(("mx_smpp_binds_up", row.name), 0)),
                "window": int(samples.get(("mx_smpp_window_in_use", row.name), 0)),
                "submitted": int(ok),
                "failed": int(samples.get(("mx_smpp_submit_sm_failed", row.name), 0)),
                "errors": int(samples.get(("mx_smpp_errors_total", row.name), 0)),
                "rate": rate,
            }
        )
    state.console_submit_samples = current
    return result


@router.get("/carriers")
async def carrier_list(console: SignedIn) -> Response:
    _require_root(console)
    _count, routes = await carriers.list_routes(console.db, PageRequest(0, 1000))
    return console.render(
        "carriers.html", carriers=await _carrier_rows(console), routes=routes, workers=registry.current() is not None
    )


@router.get("/carriers/live")
async def carrier_live(console: SignedIn) -> Response:
    """The status table alone: the carriers page polls it every few seconds (htmx)."""
    _require_root(console)
    return console.render("_carrier_rows.html", carriers=await _carrier_rows(console))
