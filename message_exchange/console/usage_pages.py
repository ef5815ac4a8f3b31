"""Usage: daily / monthly charts of messages, mappings and enterprises, and the same figures as CSV."""

from __future__ import annotations

import csv
import io
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from message_exchange.console.charts import bar_chart
from message_exchange.console.deps import SignedIn
from message_exchange.console.usage import PERIODS, usage_series
from message_exchange.db.base import utcnow

router = APIRouter(prefix="/console", include_in_schema=False)


def _period(value: str) -> str:
    return value if value in PERIODS else "daily"


@router.get("/usage")
async def usage_page(console: SignedIn, period: Annotated[str, Query()] = "daily") -> Response:
    chosen = _period(period)
    window, series = await usage_series(console.db, console.user, chosen, utcnow().date(), admin_of=console.admin_of)
    charts = [
        (item, bar_chart(item.label, item.points, monthly=chosen == "monthly", chart_id=f"chart-{item.name}"))
        for item in series
    ]
    return console.render("usage.html", period=chosen, window=window, charts=charts, periods=PERIODS)


@router.get("/usage.csv")
async def usage_csv(console: SignedIn, period: Annotated[str, Query()] = "daily") -> Response:
    chosen = _period(period)
    _window, series = await usage_series(console.db, console.user, chosen, utcnow().date(), admin_of=console.admin_of)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["period", *[item.name for item in series]])
    for index, (day, _count) in enumerate(series[0].points):
        label = day.strftime("%Y-%m") if chosen == "monthly" else day.isoformat()
        writer.writerow([label, *[item.points[index][1] for item in series]])
    response = Response(out.getvalue(), media_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="usage-{chosen}.csv"'
    return console.finish(response)
