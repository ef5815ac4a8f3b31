"""The contract's corners: every path variant, who may change a business customer, the lifecycle's
remaining transitions, timestamps as the document writes them, and Graph refusing the bot."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from fastapi import FastAPI
from sqlalchemy import update

from message_exchange.accounts.models import Account
from message_exchange.msteams.models import BotDetails, BusinessCustomer, TeamsMapping
from message_exchange.numbers.models import IncomingPhoneNumber
from tests.fakes.botframework import FakeBotFramework, User
from tests.msteams.conftest import APP_ID, TENANT, admin_body, bot_body, count
from tests.support.accounts import Creds, MakeAccount
from tests.webex.conftest import Api, data, error


async def _account(app: FastAPI, sid: str) -> Account:
    async with app.state.session_factory() as session:
        account: Account | None = await session.get(Account, sid)
        assert account is not None
        return account


def _mapping(enterprise: str, user: User, number: str, **extra: str) -> dict[str, str]:
    return {"microsoftAddress": user.upn, "externalAddress": number, "enterpriseSid": enterprise, **extra}


async def test_every_path_variant_of_the_document(api: Api, root: Creds, app: FastAPI, jane: User) -> None:
    # Business customers under /msteams/enterprise as well as /msteams/enterprises.
    item = data(await api(root, "POST", "/msteams/enterprise", json=admin_body("Variant", "v@corp.example")), 201)
    sid = item["sid"]
    assert data(await api(root, "GET", f"/msteams/enterprise/search/{sid}")) == item
    assert [e["sid"] for e in data(await api(root, "GET", "/msteams/enterprise/search"))["result"]] == [sid]
    assert data(await api(root, "PUT", f"/msteams/enterprise/{sid}", json={"name": "Kohl"}))["name"] == "Kohl"
    # Bot details under /msteams/teamsbot, /msteams/teamsbot/details and the curl lines' /mxteams/….
    bot = data(await api(root, "POST", "/msteams/teamsbot/details", json=bot_body(sid)))
    for path in (
        f"/msteams/teamsbot/search/{bot['sid']}",
        f"/msteams/teamsbot/details/search/{bot['sid']}",
        f"/mxteams/teamsbot/search/{bot['sid']}",
        f"/mxteams/teamsbot/details/search/{bot['sid']}",
    ):
        assert data(await api(root, "GET", path))["sid"] == bot["sid"], path
    for path in ("/mxteams/teamsbot/search", "/mxteams/teamsbot/details/search", "/msteams/teamsbot/details/search"):
        assert data(await api(root, "GET", path))["total"] == 1, path
    updated = await api(root, "PUT", f"/msteams/teamsbot/details/{bot['sid']}", json={"botAppId": "b-2"})
    assert data(updated)["botAppId"] == "b-2"
    updated = await api(root, "PUT", f"/mxteams/teamsbot/{bot['sid']}", json={"botAppId": "b-3"})
    assert data(updated)["botAppId"] == "b-3"
    # Mappings under /msteams/teams/mappings as well as /msteams/mappings.
    mapping = data(await api(root, "POST", "/msteams/teams/mappings", json=_mapping(sid, jane, "15557770001")))
    msid = mapping["sid"]
    assert data(await api(root, "GET", f"/msteams/teams/mappings/search/{msid}")) == mapping
    assert data(await api(root, "GET", "/msteams/teams/mappings/search"))["total"] == 1
    renamed = data(await api(root, "PUT", f"/msteams/teams/mappings/{msid}", json={"name": "sunny11"}))
    assert renamed["name"] == "sunny11"
    assert data(await api(root, "DELETE", f"/msteams/teams/mappings/{msid}"))["sid"] == msid
    error(await api(root, "GET", f"/msteams/mappings/search/{msid}"), 409, "480")
    assert data(await api(root, "DELETE", f"/mxteams/teamsbot/details/{bot['sid']}"))["sid"] == bot["sid"]
    assert await count(app, BotDetails) == 0
    assert data(await api(root, "DELETE", f"/msteams/enterprise/{sid}"))["status"] == "CLOSED"


async def test_the_admin_sees_its_business_customer_but_only_the_csp_changes_it(
    api: Api, root: Creds, app: FastAPI, make_account: MakeAccount, ms: FakeBotFramework, jane: User
) -> None:
    mine = data(await api(root, "POST", "/msteams/enterprises", json=admin_body("Mine", "boss@mine.example")), 201)
    other = data(await api(root, "POST", "/msteams/enterprises", json=admin_body("Other", "boss@other.example")), 201)
    admin = httpx.BasicAuth("boss@mine.example", "Test@1234")
    for method, body in (("PUT", {"status": "INACTIVE"}), ("PUT", {"name": "Renamed"}), ("DELETE", None)):
        response = await api(admin, method, f"/msteams/enterprises/{mine['sid']}", json=body)
        assert response.status_code == 403 and response.json()["errorCode"] == "403", response.text
    assert data(await api(admin, "GET", f"/msteams/enterprises/search/{mine['sid']}")) == mine
    # Another business customer is not there at all for this admin.
    error(await api(admin, "PUT", f"/msteams/enterprises/{other['sid']}", json={"name": "x"}), 409, "4051")
    error(await api(admin, "DELETE", f"/msteams/enterprises/{other['sid']}"), 409, "4051")
    error(await api(admin, "POST", "/msteams/teamsbot", json=bot_body(other["sid"])), 409, "4051")
    # Its own bot details and mappings the admin does manage.
    bot = data(await api(admin, "POST", "/msteams/teamsbot", json=bot_body(mine["sid"])))
    mapping = data(await api(admin, "POST", "/msteams/mappings", json=_mapping(mine["sid"], jane, "15557770001")))
    assert (bot["accountSid"], mapping["accountSid"]) == (mine["enterpriseAdminSid"], mine["enterpriseAdminSid"])
    assert [m["sid"] for m in data(await api(root, "GET", "/msteams/mappings/search"))["result"]] == [mapping["sid"]]
    async with app.state.session_factory() as session:
        row = await session.get(BusinessCustomer, mine["sid"])
        assert row is not None and (row.name, row.status) == ("Mine", "ACTIVE")
    # A business customer's admin creates no business customers.
    response = await api(admin, "POST", "/msteams/enterprises", json=admin_body("Sub", "sub@mine.example"))
    assert response.status_code == 403
    assert await count(app, BusinessCustomer) == 2


async def test_the_admin_email_must_be_an_email_and_451_comes_first(api: Api, root: Creds, app: FastAPI) -> None:
    for email in ("bad", "a@b", "two words@x.example", "a@b@c.example"):
        body = error(await api(root, "POST", "/msteams/enterprises", json=admin_body("Acme", email)), 400, "400")
        assert "emailId" in body["message"], email
    body = error(
        await api(root, "POST", "/msteams/enterprises", json={"enterpriseAdmin": {"emailId": "bad"}}), 400, "451"
    )
    assert body["message"] == "Mandatory parameter name, enterpriseAdmin.password is missing."
    assert await count(app, BusinessCustomer) == 0
    assert await count(app, Account) == 1  # root only


async def test_inactive_to_closed_removes_mappings_releases_numbers_and_refuses_new_ones(
    api: Api, root: Creds, app: FastAPI, jane: User
) -> None:
    created = await api(
        root, "POST", "/msteams/enterprises", json={**admin_body("Paused", "p@corp.example"), "status": "INACTIVE"}
    )
    item = data(created, 201)
    sid = item["sid"]
    assert item["status"] == "INACTIVE"
    admin = httpx.BasicAuth("p@corp.example", "Test@1234")
    assert (await api(admin, "GET", "/msteams/enterprises/search")).status_code == 403
    data(await api(root, "POST", "/msteams/teamsbot", json=bot_body(sid)))
    mapping = data(await api(root, "POST", "/msteams/mappings", json=_mapping(sid, jane, "15557770001")))
    # INACTIVE → CLOSED directly; the mapping and the number it provisioned go.
    closed = data(await api(root, "PUT", f"/msteams/enterprises/{sid}", json={"status": "CLOSED"}))
    assert closed["status"] == "CLOSED"
    assert (await _account(app, item["enterpriseAdminSid"])).status == "closed"
    assert (await api(admin, "GET", "/msteams/enterprises/search")).status_code in (401, 403)
    error(await api(root, "GET", f"/msteams/mappings/search/{mapping['sid']}"), 409, "480")
    assert await count(app, IncomingPhoneNumber) == 0
    # Nothing new for a CLOSED business customer.
    error(await api(root, "POST", "/msteams/mappings", json=_mapping(sid, jane, "15557770002")), 409, "4051")
    error(await api(root, "POST", "/msteams/teamsbot", json=bot_body(sid)), 409, "4051")
    assert data(await api(root, "GET", "/msteams/enterprises/search", params={"Status": "CLOSED"}))["total"] == 1
    # An INACTIVE business customer without mappings is deleted (closed) too.
    other = data(await api(root, "POST", "/msteams/enterprises", json=admin_body("Idle", "i@corp.example")), 201)
    data(await api(root, "PUT", f"/msteams/enterprises/{other['sid']}", json={"status": "INACTIVE"}))
    assert data(await api(root, "DELETE", f"/msteams/enterprises/{other['sid']}"))["status"] == "CLOSED"


async def test_times_in_the_documents_form_even_with_an_unencoded_plus(
    api: Api, root: Creds, app: FastAPI, client: httpx.AsyncClient
) -> None:
    sids = []
    for day, name in enumerate(("One", "Two", "Three"), start=1):
        item = data(await api(root, "POST", "/msteams/enterprises", json=admin_body(name, f"{name}@corp.example")), 201)
        assert item["dateCreated"][10] == "T" and item["dateCreated"].endswith("+0000")
        datetime.strptime(item["dateUpdated"], "%Y-%m-%dT%H:%M:%S%z")
        sids.append(item["sid"])
        async with app.state.session_factory() as session, session.begin():
            when = datetime(2019, 10, 10 + day, 13, 13, 48, tzinfo=UTC)
            await session.execute(
                update(BusinessCustomer).where(BusinessCustomer.sid == item["sid"]).values(date_created=when)
            )
    listed = data(await api(root, "GET", "/msteams/enterprises/search"))["result"]
    assert [e["dateCreated"] for e in listed] == [f"2019-10-{d}T13:13:48+0000" for d in (11, 12, 13)]
    # A client writing the document's form straight into the URL: its "+" arrives as a space.
    raw = await client.get(
        "/msteams/enterprises/search?startTime=2019-10-12T13:13:48+0000&endTime=2019-10-13T00:00:00+00:00",
        auth=root.auth,
    )
    assert [e["sid"] for e in data(raw)["result"]] == [sids[1]]
    encoded = await api(root, "GET", "/msteams/enterprises/search", params={"startTime": "2019-10-12T13:13:49+0000"})
    assert data(encoded)["total"] == 1
    bad = await api(root, "GET", "/msteams/enterprises/search", params={"endTime": "2019-10-12T13:13:48 00"})
    error(bad, 400, "400")


async def test_a_guest_user_of_the_tenant_can_be_mapped(
    api: Api, root: Creds, ms: FakeBotFramework, app: FastAPI
) -> None:
    sid = data(await api(root, "POST", "/msteams/enterprises", json=admin_body("Guests", "g@corp.example")), 201)["sid"]
    data(await api(root, "POST", "/msteams/teamsbot", json=bot_body(sid)))
    guest = ms.add_user(TENANT, "eve_fabrikam.com#EXT#@contoso.onmicrosoft.com", "Eve (guest)")
    mapping = data(await api(root, "POST", "/msteams/mappings", json=_mapping(sid, guest, "15557770003")))
    assert mapping["microsoftAddress"] == guest.upn
    async with app.state.session_factory() as session:
        row = await session.get(TeamsMapping, mapping["sid"])
        assert row is not None and (row.aad_object_id, row.domain) == (guest.object_id, "contoso.onmicrosoft.com")


async def test_graph_refusing_the_bot_is_the_platform_error_452(
    api: Api, root: Creds, ms: FakeBotFramework, jane: User, app: FastAPI
) -> None:
    sid = data(await api(root, "POST", "/msteams/enterprises", json=admin_body("NoPerm", "n@corp.example")), 201)["sid"]
    data(await api(root, "POST", "/msteams/teamsbot", json=bot_body(sid)))
    ms.apps[APP_ID].graph_allowed = False  # the app was never granted User.Read.All
    body = error(await api(root, "POST", "/msteams/mappings", json=_mapping(sid, jane, "15557770004")), 400, "452")
    assert "Insufficient privileges" in body["message"] and body["data"] == jane.upn
    assert await count(app, TeamsMapping) == 0
    assert await count(app, IncomingPhoneNumber) == 0


async def test_the_page_links_are_served_as_written(api: Api, root: Creds, client: httpx.AsyncClient) -> None:
    for name in ("A", "B", "C"):
        data(await api(root, "POST", "/msteams/enterprises", json=admin_body(name, f"{name}@corp.example")), 201)
    first = data(await api(root, "GET", "/msteams/enterprise/search", params={"pageSize": "2", "sortBy": "name"}))
    assert first["nextPageUri"] == "/msteams/enterprise/search/?sortBy=name&pageSize=2&page=1"
    following = await client.get(first["nextPageUri"], auth=root.auth)  # no redirect: answered where it points
    second = data(following)
    assert [e["name"] for e in second["result"]] == ["C"] and second["uri"] == first["nextPageUri"]
    assert data(await client.get(second["previousPageUri"], auth=root.auth))["result"] == first["result"]
    for path in ("/msteams/teams/mappings/search/", "/msteams/teamsbot/details/search/", "/msteams/messages/search/"):
        listed = data(await client.get(f"{path}?pageSize=10&page=0", auth=root.auth))
        assert listed["uri"] == f"{path}?pageSize=10&page=0", path
