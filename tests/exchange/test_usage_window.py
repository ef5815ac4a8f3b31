"""Usage windows: each subresource's period and default range, offsets, explicit dates."""

from __future__ import annotations

from datetime import date

import pytest

from message_exchange.core.errors import BadRequest, NotFound
from message_exchange.exchange.usage import Granularity, UsageRecord, UsageWindow, usage_window

TODAY = date(2024, 3, 1)  # the day after a leap day, the first of a month


@pytest.mark.parametrize(
    "sub,granularity,start,end",
    [
        ("daily", Granularity.DAY, date(2024, 2, 1), TODAY),
        ("monthly", Granularity.MONTH, date(2023, 4, 1), date(2024, 3, 31)),
        ("yearly", Granularity.YEAR, date(2023, 1, 1), date(2024, 12, 31)),
        ("today", Granularity.DAY, TODAY, TODAY),
        ("yesterday", Granularity.DAY, date(2024, 2, 29), date(2024, 2, 29)),
        ("thismonth", Granularity.MONTH, date(2024, 3, 1), date(2024, 3, 31)),
        ("lastmonth", Granularity.MONTH, date(2024, 2, 1), date(2024, 2, 29)),
        ("LastMonth", Granularity.MONTH, date(2024, 2, 1), date(2024, 2, 29)),
    ],
)
def test_default_ranges(sub: str, granularity: Granularity, start: date, end: date) -> None:
    window = usage_window(sub, start=None, end=None, today=TODAY)
    assert (window.granularity, window.start, window.end) == (granularity, start, end)


def test_january_lastmonth_is_december_of_last_year() -> None:
    window = usage_window("lastmonth", start=None, end=None, today=date(2024, 1, 15))
    assert (window.start, window.end) == (date(2023, 12, 1), date(2023, 12, 31))


def test_explicit_dates_and_offsets_replace_the_default() -> None:
    window = usage_window("daily", start="-30days", end="+30days", today=TODAY)
    assert (window.start, window.end, window.single) == (date(2024, 1, 31), date(2024, 3, 31), False)
    assert usage_window(None, start="2019-09-01", end=None, today=TODAY) == UsageWindow(
        Granularity.TOTAL, date(2019, 9, 1), None
    )
    assert usage_window(None, start=None, end=None, today=TODAY) == UsageWindow(Granularity.TOTAL, None, None)


def test_bad_input() -> None:
    with pytest.raises(NotFound):
        usage_window("hourly", start=None, end=None, today=TODAY)
    for value in ("2019-02-30", "30days", "-30 days", "tomorrow", "-999999days"):
        with pytest.raises(BadRequest):
            usage_window("daily", start=value, end=None, today=TODAY)


def test_record_shape() -> None:
    assert UsageRecord("Total Messages", 3).as_dict() == {"description": "Total Messages", "count": 3}
    assert UsageRecord("X", 1, date(2019, 8, 1), date(2019, 8, 31)).as_dict() == {
        "description": "X",
        "startDate": "2019-08-01",
        "endDate": "2019-08-31",
        "count": 1,
    }
