"""Message records: every filter and sort attribute, paging, 481, and tenancy."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from sqlalchemy import update

from message_exchange.exchange import service as exchange
from message_exchange.exchange.models import ExchangeMessage
from tests.fakes.botframework import FakeBotFramework, User
from tests.msteams.conftest import admin_body, bot_body
from tests.support.accounts import Creds, MakeAccount
from tests.webex.conftest import Api, data, error

RECORD_FIELDS = {
    "sid",
    "dateUpdated",
    "dateCreated",
    "accountSid",
    "enterpriseSid",
    "from",
    "to",
    "direction",
    "type",
    "uri",
    "restcommMessageSid",
    "channelStatus",
    "channelErrorCode",
    "channelErrorMessage",
}


async def _setup(api: Api, root: Creds, name: str, user: User, number: str) -> tuple[str, str]:
    body = admin_body(name, f"{name.lower()}@corp.example")
    enterprise = data(await api(root, "POST", "/msteams/enterprises", json=body), 201)["sid"]
    data(await api(root, "POST", "/msteams/teamsbot", json=bot_body(enterprise)))
    mapping = {"microsoftAddress": user.upn, "externalAddress": number, "enterpriseSid": enterprise}
    return enterprise, data(await api(root, "POST", "/msteams/mappings", json=mapping))["sid"]


async def _record(app: FastAPI, root: Creds, enterprise: str, mapping: str, day: int, **values: Any) -> str:
    async with app.state.session_factory() as session, session.begin():
        record = await exchange.add_record(
            session,
            sid_prefix="MS",
            channel="msteams",
            account_sid=root.sid,
            group_sid=enterprise,
            mapping_sid=mapping,
            conversation_sid=None,
            direction=values["direction"],
            with_media=values.get("mms", False),
            from_address=values["from_"],
            to_address=values["to"],
            message_sid=values.get("message_sid"),
            chat_message_id=None,
            status=values["status"],
            error_code=values.get("code"),
            error_message=values.get("error"),
        )
        when = datetime(2020, 11, day, 8, 0, tzinfo=UTC)
        await session.execute(
            update(ExchangeMessage)
            .where(ExchangeMessage.sid == record.sid)
            .values(date_created=when, date_updated=when)
        )
        return record.sid


async def test_records_filters_sorts_paging_and_481(
    api: Api, root: Creds, make_account: MakeAccount, app: FastAPI, ms: FakeBotFramework, jane: User
) -> None:
    one, map_one = await _setup(api, root, "One", jane, "15557770001")
    two, map_two = await _setup(api, root, "Two", jane, "15557770002")
    sids = {
        "a": await _record(
            app,
            root,
            one,
            map_one,
            1,
            direction="INBOUND",
            from_=jane.upn,
            to="+15713316943",
            status="delivered",
            message_sid="SM" + "1" * 32,
        ),
        "b": await _record(
            app,
            root,
            one,
            map_one,
            2,
            direction="OUTBOUND",
            from_="+16513333367",
            to=jane.upn,
            status="delivered",
            mms=True,
        ),
        "c": await _record(
            app,
            root,
            two,
            map_two,
            3,
            direction="INBOUND",
            from_=jane.upn,
            to="+14155550100",
            status="undelivered",
            code="30003",
            error="Unreachable destination handset",
        ),
        "d": await _record(
            app,
            root,
            two,
            map_two,
            4,
            direction="OUTBOUND",
            from_="+15713310000",
            to=jane.upn,
            status="failed",
            code="403",
            error="The bot is not part of the conversation roster.",
        ),
    }
    names = {sid: key for key, sid in sids.items()}

    async def found(**params: str) -> list[str]:
        page = data(await api(root, "GET", "/msteams/messages/search", params=params))
        return [names[item["sid"]] for item in page["result"]]

    page = data(await api(root, "GET", "/msteams/messages/search"))
    assert (page["total"], page["pageSize"], page["page"], page["numPages"]) == (4, 10, 0, 1)
    assert set(page["result"][0]) == RECORD_FIELDS
    first = page["result"][0]
    assert (first["from"], first["to"], first["direction"], first["type"], first["channelStatus"]) == (
        jane.upn,
        "15713316943",
        "INBOUND",
        "SMS",
        "DELIVERED",
    )
    assert first["restcommMessageSid"] == "SM" + "1" * 32 and first["dateCreated"] == "2020-11-01T08:00:00+0000"
    assert first["uri"] == f"/msteams/messages/search/{sids['a']}" and first["enterpriseSid"] == one
    assert await found() == ["a", "b", "c", "d"]
    assert await found(EnterpriseSid=two) == ["c", "d"]
    assert await found(enterpriseSid=one) == ["a", "b"]
    assert await found(type="MMS") == ["b"]
    assert await found(type="sms") == ["a", "c", "d"]
    assert await found(direction="inbound") == ["a", "c"]
    assert await found(direction="OUTBOUND") == ["b", "d"]
    assert await found(**{"from": "1"}) == ["b", "d"]  # begins with: "+1651…", "+1571…" (the "+" optional)
    assert await found(**{"from": "15713"}) == ["d"]
    assert await found(**{"from": "3"}) == []  # not a prefix
    assert await found(to="1") == ["a", "c"]
    assert await found(to="jane") == ["b", "d"]
    assert await found(to="+1415") == ["c"]
    assert await found(channelStatus="DELIV") == ["a", "b", "c"]  # contains: undelivered too
    assert await found(channelStatus="undelivered") == ["c"]
    assert await found(channelErrorCode="300") == ["c"]
    assert await found(channelErrorMessage="ROSTER") == ["d"]
    assert await found(startTime="2020-11-02", endTime="2020-11-03") == ["b", "c"]
    assert await found(endTime="2020-11-01T08:00:00") == ["a"]
    assert await found(sortBy="dateCreated:desc") == ["d", "c", "b", "a"]
    assert await found(sortBy="from", direction="OUTBOUND") == ["d", "b"]
    assert await found(sortBy="from:desc", direction="OUTBOUND") == ["b", "d"]
    assert await found(SortBy="to:desc", direction="INBOUND") == ["a", "c"]
    assert await found(sortBy="to", direction="INBOUND") == ["c", "a"]
    paged = data(await api(root, "GET", "/msteams/messages/search", params={"pageSize": "3", "page": "1"}))
    assert [names[i["sid"]] for i in paged["result"]] == ["d"] and paged["start"] == 3 and paged["end"] == 3
    assert paged["previousPageUri"] == "/msteams/messages/search/?pageSize=3&page=0"
    first_page = data(await api(root, "GET", "/msteams/messages/search", params={"pageSize": "3"}))
    assert first_page["nextPageUri"] == "/msteams/messages/search/?pageSize=3&page=1"
    for params in ({"sortBy": "channelStatus"}, {"direction": "sideways"}, {"type": "FAX"}, {"startTime": "x"}):
        error(await api(root, "GET", "/msteams/messages/search", params=params), 400, "400")
    single = data(await api(root, "GET", f"/msteams/messages/search/{sids['c']}"))
    assert (single["channelErrorCode"], single["channelErrorMessage"]) == ("30003", "Unreachable destination handset")
    body = error(await api(root, "GET", "/msteams/messages/search/MS" + "0" * 32), 409, "481")
    assert body["message"] == "Message Id not found"
    other = await make_account()
    assert data(await api(other, "GET", "/msteams/messages/search"))["total"] == 0
    error(await api(other, "GET", f"/msteams/messages/search/{sids['a']}"), 409, "481")
