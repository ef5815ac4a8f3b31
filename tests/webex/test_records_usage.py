"""Message records (list, filters, sorts, get) and usage records computed from real rows."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import update

from message_exchange.exchange import service as exchange
from message_exchange.webex.models import Enterprise, Mapping
from tests.support.accounts import Creds, MakeAccount
from tests.webex.conftest import Api, data, error

RECORD_FIELDS = {
    "sid",
    "accountSid",
    "enterpriseSid",
    "mappingSid",
    "dateCreated",
    "dateUpdated",
    "from",
    "to",
    "direction",
    "type",
    "channelStatus",
    "channelErrorCode",
    "channelErrorMessage",
}


async def _record(
    app: FastAPI,
    account_sid: str,
    when: datetime,
    *,
    group: str = "WEMgroup",
    direction: str = "OUTBOUND",
    media: bool = False,
    from_: str = "+12012852760",
    to: str = "+12012852659",
    status: str = "delivered",
    code: str | None = None,
    message: str | None = None,
) -> str:
    async with app.state.session_factory() as session, session.begin():
        record = await exchange.add_record(
            session,
            sid_prefix="WEM",
            channel="webex",
            account_sid=account_sid,
            group_sid=group,
            mapping_sid="WEMmapping",
            conversation_sid=None,
            direction=direction,
            with_media=media,
            from_address=from_,
            to_address=to,
            message_sid=None,
            chat_message_id=None,
            status=status,
            error_code=code,
            error_message=message,
        )
        record.date_created = record.date_updated = when
        return record.sid


async def _search(api: Api, creds: Creds, **params: str) -> list[dict[str, Any]]:
    page = data(await api(creds, "GET", "/webex/webexteams/messages/search", params=params))
    return list(page["result"])


def _at(day: date, hour: int = 12, minute: int = 0, second: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute, second), tzinfo=UTC)


async def test_message_records_filter_sort_page_and_get(
    app: FastAPI, api: Api, root: Creds, make_account: MakeAccount
) -> None:
    stranger = await make_account()
    day = date(2019, 8, 22)
    a = await _record(app, root.sid, _at(day, 12, 20, 9), group="WEMone")
    b = await _record(
        app, root.sid, _at(day, 12, 20, 49), direction="INBOUND", to="jane.doe@yourcompany.com", group="WEMtwo"
    )
    c = await _record(
        app,
        root.sid,
        _at(day + timedelta(days=1)),
        media=True,
        from_="+12012852659",
        to="+15005550002",
        status="undelivered",
        code="30003",
        message="Unreachable destination handset",
    )
    theirs = await _record(app, stranger.sid, _at(day))

    everything = await _search(api, root)
    assert [r["sid"] for r in everything] == [a, b, c]
    assert set(everything[0]) == RECORD_FIELDS
    assert (everything[0]["from"], everything[0]["to"], everything[0]["dateCreated"]) == (
        "12012852760",
        "12012852659",
        "2019-08-22 12:20:09.0",
    )
    assert [r["sid"] for r in await _search(api, root, SortBy="dateCreated:desc")] == [c, b, a]
    assert [r["sid"] for r in await _search(api, root, SortBy="to")] == [a, c, b]
    by_sender = [r["sid"] for r in await _search(api, root, SortBy="from:desc")]
    assert set(by_sender[:2]) == {a, b} and by_sender[2] == c
    checks: list[tuple[dict[str, str], list[str]]] = [
        ({"enterpriseSid": "WEMtwo"}, [b]),
        ({"direction": "inbound"}, [b]),
        ({"direction": "OUTBOUND"}, [a, c]),
        ({"type": "MMS"}, [c]),
        ({"to": "jane.doe@yourcompany.com"}, [b]),
        ({"to": "12012852659"}, [a]),
        ({"to": "+12012852659"}, [a]),
        ({"from": "1201285276%"}, [a, b]),
        ({"channelStatus": "DELIVER"}, [a, b, c]),
        ({"channelStatus": "undeliv"}, [c]),
        ({"channelErrorCode": "300"}, [c]),
        ({"channelErrorMessage": "unreachable"}, [c]),
        ({"startTime": "2019-08-22T12:20:30"}, [b, c]),
        ({"endTime": "2019-08-22"}, [a, b]),
        ({"accountSid": stranger.sid}, []),
    ]
    for params, expected in checks:
        assert [r["sid"] for r in await _search(api, root, **params)] == expected, params
    page = data(await api(root, "GET", "/webex/webexteams/messages/search", params={"page": "1", "per_page": "2"}))
    assert (page["total"], page["numPages"], page["start"], page["end"], page["result"][0]["sid"]) == (3, 2, 2, 3, c)

    assert data(await api(root, "GET", f"/webex/webexteams/messages/search/{c}"))["channelErrorCode"] == "30003"
    error(await api(root, "GET", f"/webex/webexteams/messages/search/{theirs}"), 409, "491")
    error(await api(root, "GET", "/webex/webexteams/messages/search/WEMnope"), 409, "491")
    for bad in ({"direction": "SIDEWAYS"}, {"type": "FAX"}, {"SortBy": "type"}, {"startTime": "2019-02-30"}):
        error(await api(root, "GET", "/webex/webexteams/messages/search", params=bad), 400, "400")


async def test_usage_buckets_across_day_month_and_year_boundaries(app: FastAPI, api: Api, root: Creds) -> None:
    moments = [
        datetime(2019, 8, 31, 23, 59, 59, tzinfo=UTC),
        datetime(2019, 9, 1, 0, 0, 0, tzinfo=UTC),
        datetime(2019, 9, 1, 12, 0, 0, tzinfo=UTC),
        datetime(2019, 12, 31, 23, 59, 59, 999000, tzinfo=UTC),
        datetime(2020, 1, 1, 0, 0, 0, tzinfo=UTC),
    ]
    for index, moment in enumerate(moments):
        await _record(app, root.sid, moment, direction="INBOUND" if index % 2 else "OUTBOUND", group="WEMg")
    base = "/webex/webexteams/messages/usage/records"
    span = {"startDate": "2019-08-31", "endDate": "2020-01-01"}

    def rows(body: Any) -> list[tuple[str, str, int]]:
        return [(r["startDate"], r["endDate"], r["count"]) for r in body]

    assert rows(data(await api(root, "GET", f"{base}/daily", params=span))) == [
        ("2019-08-31", "2019-08-31", 1),
        ("2019-09-01", "2019-09-01", 2),
        ("2019-12-31", "2019-12-31", 1),
        ("2020-01-01", "2020-01-01", 1),
    ]
    assert rows(data(await api(root, "GET", f"{base}/monthly", params=span))) == [
        ("2019-08-01", "2019-08-31", 1),
        ("2019-09-01", "2019-09-30", 2),
        ("2019-12-01", "2019-12-31", 1),
        ("2020-01-01", "2020-01-31", 1),
    ]
    assert rows(data(await api(root, "GET", f"{base}/yearly", params=span))) == [
        ("2019-01-01", "2019-12-31", 4),
        ("2020-01-01", "2020-12-31", 1),
    ]
    total = data(await api(root, "GET", base, params={"startDate": "2019-09-01", "endDate": "2019-12-31"}))
    assert total == [{"description": "Total Messages", "startDate": "2019-09-01", "endDate": "2019-12-31", "count": 3}]
    assert data(await api(root, "GET", base)) == [{"description": "Total Messages", "count": 5}]
    filtered = data(await api(root, "GET", f"{base}/yearly", params={**span, "direction": "INBOUND"}))
    assert rows(filtered) == [("2019-01-01", "2019-12-31", 2)]
    assert data(await api(root, "GET", base, params={"enterpriseSid": "WEMother"}))[0]["count"] == 0
    assert data(await api(root, "GET", base, params={"to": "12012852659", "type": "SMS"}))[0]["count"] == 5
    assert data(await api(root, "GET", base, params={"channelStatus": "failed"}))[0]["count"] == 0
    # The default ranges are relative to today: these 2019 rows are outside every one of them.
    for sub in ("daily", "monthly", "yearly"):
        assert data(await api(root, "GET", f"{base}/{sub}")) == []


async def test_usage_subresources_default_to_their_periods(app: FastAPI, api: Api, root: Creds) -> None:
    today = datetime.now(UTC).date()
    first_of_month = today.replace(day=1)
    last_month = (first_of_month - timedelta(days=1)).replace(day=1)
    rows = {
        "today": _at(today, 0, 0, 1),
        "yesterday": _at(today - timedelta(days=1), 23, 59, 59),
        "29 days ago": _at(today - timedelta(days=29), 0, 0, 0),
        "30 days ago": _at(today - timedelta(days=30), 23, 59, 59),
        "last month": _at(last_month, 0, 0, 0),
        "last year": _at(date(today.year - 1, 1, 1), 0, 0, 0),
        "two years ago": _at(date(today.year - 2, 12, 31), 23, 59, 59),
    }
    for moment in rows.values():
        await _record(app, root.sid, moment)
    base = "/webex/webexteams/messages/usage/records"

    async def counts(sub: str, **params: str) -> list[int]:
        return [r["count"] for r in data(await api(root, "GET", f"{base}/{sub}", params=params))]

    def within(start: date, end: date) -> int:
        return sum(1 for moment in rows.values() if start <= moment.date() <= end)

    assert await counts("today") == [1]
    assert await counts("yesterday") == [1]
    assert sum(await counts("daily")) == within(today - timedelta(days=29), today)
    assert sum(await counts("thismonth")) == within(first_of_month, today)
    assert sum(await counts("lastmonth")) == within(last_month, first_of_month - timedelta(days=1))
    eleven_back = first_of_month
    for _ in range(11):
        eleven_back = (eleven_back - timedelta(days=1)).replace(day=1)
    assert sum(await counts("monthly")) == within(eleven_back, today)
    assert sum(await counts("yearly")) == within(date(today.year - 1, 1, 1), today)
    assert sum(await counts("daily", startDate="-1days")) == 2
    assert sum(await counts("daily", startDate="-1days", endDate="-1days")) == 1
    assert sum(await counts("daily", endDate="+30days", startDate="-29days")) == within(
        today - timedelta(days=29), today
    )
    today_body = data(await api(root, "GET", f"{base}/today"))
    assert today_body == [
        {"description": "Total Messages", "startDate": today.isoformat(), "endDate": today.isoformat(), "count": 1}
    ]


async def test_usage_of_enterprises_and_mappings_and_every_path(
    app: FastAPI, api: Api, root: Creds, make_account: MakeAccount
) -> None:
    stranger = await make_account()
    child = await make_account(root)
    first = data(await api(root, "POST", "/webex/enterprise", json={"name": "A"}))
    second = data(await api(child, "POST", "/webex/enterprise", json={"name": "B"}))
    data(await api(stranger, "POST", "/webex/enterprise", json={"name": "C"}))
    m1 = data(
        await api(
            root,
            "POST",
            f"/webex/webexteams/mappings/{first['sid']}",
            json={"webexAddress": "a@x.com", "externalAddress": "+15557770001"},
        )
    )
    data(
        await api(
            child,
            "POST",
            f"/webex/webexteams/mappings/{second['sid']}",
            json={"webexAddress": "b@x.com", "externalAddress": "+15557770002"},
        )
    )
    async with app.state.session_factory() as session, session.begin():
        when = datetime(2019, 9, 3, 10, tzinfo=UTC)
        await session.execute(update(Enterprise).where(Enterprise.sid == first["sid"]).values(date_created=when))
        await session.execute(update(Mapping).where(Mapping.sid == m1["sid"]).values(date_created=when))
    data(await api(root, "DELETE", f"/webex/webexteams/mappings/{m1['sid']}"))  # deleted: still created then
    today = datetime.now(UTC).date()
    this_month = (today.replace(day=1), (today.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1))
    for path in ("/webex/enterprise/usage/records", "/webexteams/enterprise/usage/records"):
        # The enterprise list answers per month, as its example in the document does.
        assert data(await api(root, "GET", path)) == [
            {"description": "Enterprise created", "startDate": "2019-09-01", "endDate": "2019-09-30", "count": 1},
            {
                "description": "Enterprise created",
                "startDate": this_month[0].isoformat(),
                "endDate": this_month[1].isoformat(),
                "count": 1,
            },
        ]
        assert data(await api(root, "GET", path, params={"startDate": "2019-09-03", "endDate": "2019-09-03"})) == [
            {"description": "Enterprise created", "startDate": "2019-09-01", "endDate": "2019-09-30", "count": 1}
        ]
        daily = data(
            await api(root, "GET", f"{path}/daily", params={"startDate": "2019-09-01", "endDate": "2019-09-30"})
        )
        assert daily == [
            {"description": "Enterprise created", "startDate": "2019-09-03", "endDate": "2019-09-03", "count": 1}
        ]
    assert (
        data(await api(root, "GET", "/webex/enterprise/usage/records", params={"accountSid": child.sid}))[0]["count"]
        == 1
    )
    assert data(await api(stranger, "GET", "/webex/enterprise/usage/records"))[0]["count"] == 1
    # Another CSP counts none of ours, even naming our enterprise or account.
    for path, params in (
        ("/webex/webexteams/mappings/usage/records", {}),
        ("/webex/webexteams/mappings/usage/records", {"enterpriseSid": first["sid"]}),
        ("/webex/webexteams/mappings/usage/records/yearly", {"accountSid": root.sid, "startDate": "2019-01-01"}),
        ("/webex/enterprise/usage/records/thismonth", {"accountSid": root.sid}),
    ):
        assert sum(r["count"] for r in data(await api(stranger, "GET", path, params=params))) == 0, path
    mappings = "/webex/webexteams/mappings/usage/records"
    assert data(await api(root, "GET", mappings)) == [{"description": "Webex mapping created", "count": 2}]
    assert data(await api(root, "GET", mappings, params={"enterpriseSid": second["sid"]}))[0]["count"] == 1
    assert data(await api(root, "GET", mappings, params={"enterpriseId": first["sid"]}))[0]["count"] == 1
    assert data(await api(root, "GET", f"{mappings}/today"))[0]["count"] == 1
    assert data(await api(root, "GET", f"{mappings}/yearly", params={"startDate": "2019-01-01"}))[0]["count"] == 1
    assert data(await api(root, "GET", "/webexteams/webexteams/messages/usage/records/lastmonth"))[0]["count"] == 0


@pytest.mark.parametrize(
    "path,params,status,code",
    [
        ("/webex/enterprise/usage/records/weekly", {}, 404, "404"),
        ("/webex/webexteams/messages/usage/records", {"startDate": "2019-13-01"}, 400, "400"),
        ("/webex/webexteams/messages/usage/records", {"endDate": "+30day"}, 400, "400"),
        ("/webex/webexteams/mappings/usage/records/daily", {"startDate": "yesterday"}, 400, "400"),
        ("/webex/webexteams/messages/usage/records", {"direction": "UP"}, 400, "400"),
    ],
)
async def test_bad_usage_requests(
    api: Api, root: Creds, path: str, params: dict[str, str], status: int, code: str
) -> None:
    error(await api(root, "GET", path, params=params), status, code)
    error(await api(None, "GET", path), 401, "401")


async def test_a_group_mappings_records_are_found_by_each_members_address(app: FastAPI, api: Api, root: Creds) -> None:
    day = date(2019, 8, 22)
    group = await _record(app, root.sid, _at(day), direction="INBOUND", to="ann@acme.com,bob@acme.com")
    single = await _record(app, root.sid, _at(day, 13), direction="INBOUND", to="ann@acme.co")
    for to, expected in (
        ("ann@acme.com", [group]),
        ("BOB@acme.com", [group]),
        ("ann@acme.com,bob@acme.com", [group]),
        ("acme.com", []),
        ("ann@acme.co", [single]),
        ("ann@%", [group, single]),
    ):
        assert [r["sid"] for r in await _search(api, root, to=to)] == expected, to
    usage = data(await api(root, "GET", "/webex/webexteams/messages/usage/records", params={"to": "bob@acme.com"}))
    assert usage[0]["count"] == 1
