"""Usage records: how many rows (enterprises, mappings, messages …) fall in each period.

::

    window = usage_window("daily", start="-7days", end=None, today=date.today())
    records = await count_usage(session, Model.date_created, conditions, window, "Total Messages")

The list resource (no subresource) returns one total over ``startDate``..``endDate`` (all
time without them). The subresources bucket by period, with the documents' defaults when
no date is given:

============  ==========  =============================================
subresource   buckets     default range
============  ==========  =============================================
daily         day         the last 30 days, today included
monthly       month       the last 12 months, this month included
yearly        year        last year and this year
today         day         today
yesterday     day         yesterday
thismonth     month       this month
lastmonth     month       last month
============  ==========  =============================================

``startDate`` / ``endDate`` (``YYYY-MM-DD`` or ``±Ndays`` from today, GMT, both inclusive)
replace the default range of any subresource. Bucketed lists are sparse (periods with no
usage are left out, as the documents' examples show), oldest first; the single-period
subresources (today … lastmonth) always return their one record, zero included. Counting
is done by the database (``GROUP BY`` the period's text), so it stays one query at any size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from message_exchange.core.dates import parse_day_or_offset
from message_exchange.core.errors import NotFound
from message_exchange.exchange.repository import count_per_period, count_where


class Granularity(StrEnum):
    TOTAL = "total"
    DAY = "day"
    MONTH = "month"
    YEAR = "year"


SUBRESOURCES = ("daily", "monthly", "yearly", "today", "yesterday", "thismonth", "lastmonth")
_SINGLE_PERIOD = ("today", "yesterday", "thismonth", "lastmonth")


@dataclass(frozen=True, slots=True)
class UsageWindow:
    granularity: Granularity
    start: date | None
    end: date | None
    # The one period a single-period subresource reports even when nothing happened.
    single: bool = False


@dataclass(frozen=True, slots=True)
class UsageRecord:
    description: str
    count: int
    start: date | None = None
    end: date | None = None

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"description": self.description}
        if self.start is not None and self.end is not None:
            body["startDate"] = self.start.isoformat()
            body["endDate"] = self.end.isoformat()
        body["count"] = self.count
        return body


def _month_start(day: date, months_back: int = 0) -> date:
    index = day.year * 12 + day.month - 1 - months_back
    return date(index // 12, index % 12 + 1, 1)


def _month_end(day: date) -> date:
    return _month_start(day, -1) - timedelta(days=1)


def usage_window(subresource: str | None, *, start: str | None, end: str | None, today: date) -> UsageWindow:
    """The granularity and range of a usage request; an unknown subresource → 404."""
    start_day = parse_day_or_offset(start, param="startDate", today=today) if start else None
    end_day = parse_day_or_offset(end, param="endDate", today=today) if end else None
    if subresource is None:
        return UsageWindow(Granularity.TOTAL, start_day, end_day)
    name = subresource.lower()
    defaults: dict[str, tuple[Granularity, date, date]] = {
        "daily": (Granularity.DAY, today - timedelta(days=29), today),
        "monthly": (Granularity.MONTH, _month_start(today, 11), _month_end(today)),
        "yearly": (Granularity.YEAR, date(today.year - 1, 1, 1), date(today.year, 12, 31)),
        "today": (Granularity.DAY, today, today),
        "yesterday": (Granularity.DAY, today - timedelta(days=1), today - timedelta(days=1)),
        "thismonth": (Granularity.MONTH, _month_start(today), _month_end(today)),
        "lastmonth": (Granularity.MONTH, _month_start(today, 1), _month_end(_month_start(today, 1))),
    }
    if name not in defaults:
        raise NotFound(f"Unknown usage subresource {subresource!r}; use one of {', '.join(SUBRESOURCES)}")
    granularity, default_start, default_end = defaults[name]
    explicit = start_day is not None or end_day is not None
    return UsageWindow(
        granularity,
        start_day if explicit else default_start,
        end_day if explicit else default_end,
        single=name in _SINGLE_PERIOD and not explicit,
    )


def _period_of(day: date, granularity: Granularity) -> tuple[date, date]:
    """The first and last day of the period ``day`` is in."""
    if granularity is Granularity.DAY:
        return day, day
    if granularity is Granularity.MONTH:
        return _month_start(day), _month_end(day)
    return date(day.year, 1, 1), date(day.year, 12, 31)


def _period_bounds(key: str, granularity: Granularity) -> tuple[date, date]:
    first = {Granularity.DAY: key, Granularity.MONTH: f"{key}-01", Granularity.YEAR: f"{key}-01-01"}[granularity]
    return _period_of(date.fromisoformat(first), granularity)


def range_conditions(column: Any, window: UsageWindow) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if window.start is not None:
        conditions.append(column >= datetime.combine(window.start, time.min, tzinfo=UTC))
    if window.end is not None:
        conditions.append(column < datetime.combine(window.end + timedelta(days=1), time.min, tzinfo=UTC))
    return conditions


async def count_usage(
    session: AsyncSession,
    column: InstrumentedAttribute[Any],
    conditions: Sequence[ColumnElement[bool]],
    window: UsageWindow,
    description: str,
) -> list[UsageRecord]:
    """Count the rows matching ``conditions`` whose ``column`` falls in ``window``, per period."""
    where = [*conditions, *range_conditions(column, window)]
    if window.granularity is Granularity.TOTAL:
        total = await count_where(session, column.class_, where)
        return [UsageRecord(description, total, window.start, window.end)]
    rows = await count_per_period(session, column, where, window.granularity)
    if window.single and not rows and window.start is not None:
        return [UsageRecord(description, 0, *_period_of(window.start, window.granularity))]
    return [UsageRecord(description, count, *_period_bounds(period, window.granularity)) for period, count in rows]
