"""StartTime/EndTime parsing, usage day offsets, and each family's date format."""

from __future__ import annotations

import os
import re
import time as time_module
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from message_exchange.core.dates import (
    iso8601_compact,
    parse_day_or_offset,
    parse_time_filter,
    rfc2822,
    webex_timestamp,
)
from message_exchange.core.errors import BadRequest

RFC2822_RE = re.compile(
    r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-3][0-9] (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"[0-9]{4} [0-2][0-9]:[0-5][0-9]:[0-5][0-9] \+0000"
)

fixed_offsets = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda minutes: timezone(timedelta(minutes=minutes)))
aware_datetimes = st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=fixed_offsets)


def start(value: str) -> datetime:
    return parse_time_filter(value, param="StartTime", end_of_range=False)


def end(value: str) -> datetime:
    return parse_time_filter(value, param="EndTime", end_of_range=True)


# --- StartTime / EndTime ---------------------------------------------------------------


def test_date_as_start_is_midnight_utc() -> None:
    assert start("2018-10-05") == datetime(2018, 10, 5, tzinfo=UTC)


def test_date_as_end_covers_the_whole_day() -> None:
    until = end("2018-10-06")
    assert until == datetime(2018, 10, 6, 23, 59, 59, 999999, tzinfo=UTC)
    assert datetime(2018, 10, 6, 23, 59, 59, 500000, tzinfo=UTC) <= until
    assert datetime(2018, 10, 7, tzinfo=UTC) > until


def test_compact_date_is_a_date_too() -> None:
    assert end("20181006") == end("2018-10-06")
    assert start("20181006") == start("2018-10-06")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2018-10-05T22:45:32", datetime(2018, 10, 5, 22, 45, 32, tzinfo=UTC)),  # naive = UTC
        ("2018-10-05 22:45:32", datetime(2018, 10, 5, 22, 45, 32, tzinfo=UTC)),  # space separator
        ("2018-10-05T22:45:32Z", datetime(2018, 10, 5, 22, 45, 32, tzinfo=UTC)),
        ("2018-10-05T22:45:32+02:00", datetime(2018, 10, 5, 20, 45, 32, tzinfo=UTC)),
        ("2018-10-05T22:45:32-0530", datetime(2018, 10, 6, 4, 15, 32, tzinfo=UTC)),
        ("2018-10-05T22:45:32.250Z", datetime(2018, 10, 5, 22, 45, 32, 250000, tzinfo=UTC)),
        ("2018-10-05T22:45", datetime(2018, 10, 5, 22, 45, tzinfo=UTC)),
        ("  2018-10-05T22:45:32Z  ", datetime(2018, 10, 5, 22, 45, 32, tzinfo=UTC)),
        ("Tue, 10 May 2022 12:33:28 +0000", datetime(2022, 5, 10, 12, 33, 28, tzinfo=UTC)),
        ("Tue, 10 May 2022 14:33:28 +0200", datetime(2022, 5, 10, 12, 33, 28, tzinfo=UTC)),
    ],
)
def test_date_times(text: str, expected: datetime) -> None:
    parsed_start = start(text)
    assert parsed_start == expected
    assert parsed_start.utcoffset() == timedelta(0)
    assert end(text) == expected  # a date-time is exact, whichever end it is


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "yesterday",
        "2018-13-01",
        "2018-02-30",
        "2018-10-05T25:00:00",
        "2018-10-05T22:45:32+25:00",
        "10/05/2018",
        "2018-10-05\x00",
        "Mon, 32 Jan 2020 00:00:00 +0000",
        "0001-01-01T00:00:00+01:00",  # converting to UTC leaves the calendar
        "9999-12-31T23:59:59-01:00",
        "Tue, 10 May 99999999999 12:33:28 +0000",
        "2018-10-05" + "0" * 500,
    ],
)
@pytest.mark.parametrize("param", ["StartTime", "EndTime"])
def test_garbage_is_400_naming_the_parameter(text: str, param: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_time_filter(text, param=param, end_of_range=param == "EndTime")
    assert caught.value.status_code == 400
    assert caught.value.param == param
    assert param in caught.value.message


@given(st.one_of(st.text(), st.text(alphabet="0123456789-:+TZWz .,Tue MayJan", max_size=40)), st.booleans())
def test_any_text_parses_or_is_bad_request(text: str, end_of_range: bool) -> None:
    try:
        parsed = parse_time_filter(text, param="StartTime", end_of_range=end_of_range)
    except BadRequest as error:
        assert error.param == "StartTime"
    else:
        assert parsed.utcoffset() == timedelta(0)


@given(aware_datetimes)
def test_any_aware_datetime_in_iso_form_parses_back_equal(moment: datetime) -> None:
    assert start(moment.isoformat()) == moment
    assert start(moment.isoformat(sep=" ")) == moment
    assert end(moment.isoformat()) == moment


@given(st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31)))
def test_any_naive_datetime_is_taken_as_utc(moment: datetime) -> None:
    assert start(moment.isoformat()) == moment.replace(tzinfo=UTC)


# --- usage dates: YYYY-MM-DD or ±Ndays -------------------------------------------------

TODAY = date(2024, 3, 15)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("-30days", date(2024, 2, 14)),
        ("+30days", date(2024, 4, 14)),
        ("-0days", TODAY),
        ("-1days", date(2024, 3, 14)),
        ("2024-01-31", date(2024, 1, 31)),
        (" 2024-01-31 ", date(2024, 1, 31)),
    ],
)
def test_day_or_offset(text: str, expected: date) -> None:
    assert parse_day_or_offset(text, param="startDate", today=TODAY) == expected


@pytest.mark.parametrize(
    "text", ["30days", "-30", "-30 days", "-30Days", "+x days", "-٣days", "2024-02-30", "2024/01/31", "", "today"]
)
def test_bad_day_or_offset_is_400(text: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_day_or_offset(text, param="endDate", today=TODAY)
    assert caught.value.param == "endDate"


def test_offset_past_the_calendar_is_400_not_overflow() -> None:
    with pytest.raises(BadRequest):
        parse_day_or_offset("+99999days", param="endDate", today=date(9990, 1, 1))


@given(st.text(max_size=20))
def test_day_or_offset_never_raises_anything_else(text: str) -> None:
    try:
        parse_day_or_offset(text, param="startDate", today=TODAY)
    except BadRequest as error:
        assert error.param == "startDate"


# --- output formats --------------------------------------------------------------------


def test_rfc2822_matches_the_documents() -> None:
    assert rfc2822(datetime(2022, 5, 10, 12, 33, 28, tzinfo=UTC)) == "Tue, 10 May 2022 12:33:28 +0000"
    assert rfc2822(datetime(2022, 5, 1, 2, 3, 4, 999999, tzinfo=UTC)) == "Sun, 01 May 2022 02:03:04 +0000"
    assert rfc2822(datetime(2022, 5, 10, 14, 33, 28, tzinfo=timezone(timedelta(hours=2)))) == (
        "Tue, 10 May 2022 12:33:28 +0000"
    )
    assert rfc2822(None) is None


@given(
    st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(9998, 12, 31), timezones=fixed_offsets)
)  # RFC 2822 years start at 1900; parsers read "0099" as 1999
def test_rfc2822_is_always_the_restcomm_shape_and_parses_back(moment: datetime) -> None:
    text = rfc2822(moment)
    assert text is not None
    assert RFC2822_RE.fullmatch(text), text
    assert start(text) == moment.astimezone(UTC).replace(microsecond=0)


def test_iso8601_compact_matches_the_teams_documents() -> None:
    assert iso8601_compact(datetime(2019, 10, 10, 13, 13, 48, 123, tzinfo=UTC)) == "2019-10-10T13:13:48+0000"
    assert iso8601_compact(datetime(2019, 10, 10, 15, 13, 48, tzinfo=timezone(timedelta(hours=2)))) == (
        "2019-10-10T13:13:48+0000"
    )
    assert iso8601_compact(None) is None


def test_webex_timestamp_matches_the_webex_documents() -> None:
    assert webex_timestamp(datetime(2019, 9, 10, 10, 7, 32, tzinfo=UTC)) == "2019-09-10 10:07:32.0"
    assert webex_timestamp(datetime(2019, 9, 10, 10, 7, 32, 987654, tzinfo=UTC)) == "2019-09-10 10:07:32.9"
    assert webex_timestamp(datetime(2019, 9, 10, 5, 7, 32, tzinfo=timezone(timedelta(hours=-5)))) == (
        "2019-09-10 10:07:32.0"
    )
    assert webex_timestamp(None) is None


@given(aware_datetimes)
def test_compact_formats_parse_back(moment: datetime) -> None:
    utc = moment.astimezone(UTC)
    compact = iso8601_compact(moment)
    webex = webex_timestamp(moment)
    assert compact is not None and webex is not None
    assert re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\+0000", compact)
    assert re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]", webex)
    assert start(compact) == utc.replace(microsecond=0)
    assert start(webex) == utc.replace(microsecond=utc.microsecond // 100000 * 100000)


@pytest.fixture
def server_in_new_york() -> Iterator[None]:
    """The process's local zone is not UTC (production hosts often are not)."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "EST+05EDT,M3.2.0,M11.1.0"
    time_module.tzset()
    yield
    if saved is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = saved
    time_module.tzset()


@pytest.mark.usefixtures("server_in_new_york")
def test_naive_datetimes_format_as_utc_not_local_time() -> None:
    naive = datetime(2022, 5, 10, 12, 33, 28)  # as SQLite hands a stored UTC value back
    assert rfc2822(naive) == "Tue, 10 May 2022 12:33:28 +0000"
    assert iso8601_compact(naive) == "2022-05-10T12:33:28+0000"
    assert webex_timestamp(naive) == "2022-05-10 12:33:28.0"


# --- through HTTP ----------------------------------------------------------------------


async def test_time_filters_are_inclusive_over_http(core_client: httpx.AsyncClient) -> None:
    # Things are created hourly from 2022-05-10 12:00 UTC: 12 on the 10th, 11 on the 11th.
    day = await core_client.get("/restcomm/Things.json", params={"StartTime": "2022-05-11", "EndTime": "2022-05-11"})
    assert day.status_code == 200
    assert day.json()["total"] == 11
    exact = await core_client.get(
        "/restcomm/Things.json", params={"StartTime": "2022-05-10T13:00:00Z", "EndTime": "2022-05-10 15:00:00"}
    )
    assert [t["date_created"] for t in exact.json()["things"]] == [
        "Tue, 10 May 2022 13:00:00 +0000",
        "Tue, 10 May 2022 14:00:00 +0000",
        "Tue, 10 May 2022 15:00:00 +0000",
    ]


@pytest.mark.parametrize("param", ["StartTime", "EndTime"])
async def test_bad_time_filter_is_400_over_http(core_client: httpx.AsyncClient, param: str) -> None:
    response = await core_client.get("/restcomm/Things.json", params={param: "2022-05-1x"})
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == 400
    assert param in body["message"]
