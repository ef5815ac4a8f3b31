"""Every console page, through the same services as the APIs, on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import httpx
from fastapi import FastAPI

from tests.console.conftest import APP_ID, Browser, admin_body, bot_body
from tests.fakes.botframework import FakeBotFramework, User
from tests.fakes.callback_sink import CallbackSink
from tests.support.accounts import Creds, MakeAccount, OwnNumber
from tests.support.pipeline import drain

SID = re.compile(r"/console/teams/enterprises/(EN[0-9a-f]{32})")


async def _business_customer(browser: Browser, name: str, admin_email: str) -> str:
    await browser.get("/console/teams/enterprises")
    response = await browser.post(
        "/console/teams/enterprises",
        {"name": name, "status": "ACTIVE", "adminEmail": admin_email, "adminPassword": "Test@1234", "adminName": ""},
    )
    assert response.status_code == 303, response.text
    found = SID.search(response.headers["location"])
    assert found
    return found.group(1)


async def test_business_customers_list_search_create_edit_and_status(signed_in: Browser) -> None:
    sid = await _business_customer(signed_in, "Acme", "admin@acme.example")
    await _business_customer(signed_in, "Globex", "admin@globex.example")
    listed = await signed_in.get("/console/teams/enterprises")
    assert "Acme" in listed.text and "Globex" in listed.text
    searched = await signed_in.get("/console/teams/enterprises", params={"name": "acm"})
    assert "Acme" in searched.text and "Globex" not in searched.text
    # The API's validation errors, inline: a taken name (4050), a bad admin email.
    taken = await signed_in.post(
        "/console/teams/enterprises",
        {"name": "acme", "adminEmail": "other@acme.example", "adminPassword": "Test@1234"},
    )
    assert taken.status_code == 409
    assert "Enterprise name not unique" in taken.text and "code 4050" in taken.text
    assert 'value="other@acme.example"' in taken.text  # what the user typed is kept (not the password)
    bad_email = await signed_in.post(
        "/console/teams/enterprises", {"name": "Initech", "adminEmail": "nobody", "adminPassword": "Test@1234"}
    )
    assert "is not an email address" in bad_email.text and 'aria-invalid="true"' in bad_email.text
    missing = await signed_in.post("/console/teams/enterprises", {"name": "", "adminEmail": "", "adminPassword": ""})
    assert "Mandatory parameter" in missing.text and "code 451" in missing.text
    # Rename.
    page = await signed_in.get(f"/console/teams/enterprises/{sid}")
    assert page.status_code == 200 and "Acme" in page.text
    renamed = await signed_in.post(f"/console/teams/enterprises/{sid}", {"name": "Acme Corp"})
    assert renamed.status_code == 303
    assert "Acme Corp" in (await signed_in.get(f"/console/teams/enterprises/{sid}")).text
    # Status changes that stop traffic need their confirmation.
    unconfirmed = await signed_in.post(f"/console/teams/enterprises/{sid}", {"status": "INACTIVE"})
    assert unconfirmed.status_code == 400 and "Tick the confirmation" in unconfirmed.text
    suspended = await signed_in.post(f"/console/teams/enterprises/{sid}", {"status": "INACTIVE", "confirm": "yes"})
    assert suspended.status_code == 303
    page = await signed_in.get(f"/console/teams/enterprises/{sid}")
    assert 'class="status s-inactive">INACTIVE' in page.text
    assert (await signed_in.post(f"/console/teams/enterprises/{sid}", {"status": "ACTIVE"})).status_code == 303
    assert 'class="status s-active">ACTIVE' in (await signed_in.get(f"/console/teams/enterprises/{sid}")).text
    filtered = await signed_in.get("/console/teams/enterprises", params={"status": "INACTIVE"})
    assert "No business customers." in filtered.text


async def test_mappings_and_bot_details_with_the_apis_errors(
    signed_in: Browser, ms: FakeBotFramework, jane: User
) -> None:
    sid = await _business_customer(signed_in, "Acme", "admin@acme.example")
    # No bot details yet: the mapping is refused as the API refuses it (485).
    refused = await signed_in.post(
        f"/console/teams/enterprises/{sid}/mappings", {"microsoftAddress": jane.upn, "externalAddress": "+15557770001"}
    )
    assert "code 485" in refused.text and "no bot details" in refused.text
    assert 'value="+15557770001"' in refused.text
    body = bot_body(sid)
    saved = await signed_in.post(
        f"/console/teams/enterprises/{sid}/bot",
        {
            "applicationId": body["applicationId"],
            "tenantId": body["tenantId"],
            "clientSecret": body["clientsecret"],
            "botAppId": body["botAppId"],
        },
    )
    assert saved.status_code == 303, saved.text
    page = await signed_in.get(f"/console/teams/enterprises/{sid}")
    assert body["applicationId"] in page.text
    assert body["clientsecret"] not in page.text  # the secret is never shown
    assert "****" in page.text
    created = await signed_in.post(
        f"/console/teams/enterprises/{sid}/mappings",
        {"microsoftAddress": jane.upn, "externalAddress": "+15557770001", "name": "Jane"},
    )
    assert created.status_code == 303, created.text
    page = await signed_in.get(f"/console/teams/enterprises/{sid}")
    assert "jane@contoso.com" in page.text and "+15557770001" in page.text
    unknown = await signed_in.post(
        f"/console/teams/enterprises/{sid}/mappings",
        {"microsoftAddress": "ghost@contoso.com", "externalAddress": "+15557770002"},
    )
    assert "Microsoft Address is not Valid" in unknown.text and "code 485" in unknown.text
    duplicate = await signed_in.post(
        f"/console/teams/enterprises/{sid}/mappings",
        {"microsoftAddress": jane.upn, "externalAddress": "15557770001"},
    )
    assert "externalAddress not unique" in duplicate.text and "code 482" in duplicate.text
    mapping_sid = re.search(r"/console/teams/mappings/(BE[0-9a-f]{32})", page.text)
    assert mapping_sid
    edited = await signed_in.post(f"/console/teams/mappings/{mapping_sid.group(1)}", {"name": "Jane D."})
    assert edited.status_code == 303
    assert "Jane D." in (await signed_in.get(f"/console/teams/enterprises/{sid}")).text
    searched = await signed_in.get(f"/console/teams/enterprises/{sid}", params={"microsoftAddress": "nobody"})
    assert "No mappings." in searched.text
    deleted = await signed_in.post(f"/console/teams/mappings/{mapping_sid.group(1)}", {"action": "delete"})
    assert deleted.status_code == 303
    page = await signed_in.get(f"/console/teams/enterprises/{sid}")
    assert "No mappings." in page.text
    bot_sid = re.search(r'name="botSid" value="(BE[0-9a-f]{32})"', page.text)
    assert bot_sid
    removed = await signed_in.post(
        f"/console/teams/enterprises/{sid}/bot", {"botSid": bot_sid.group(1), "action": "delete", "confirm": "yes"}
    )
    assert removed.status_code == 303
    assert "No bot details yet" in (await signed_in.get(f"/console/teams/enterprises/{sid}")).text


async def test_admin_sees_only_its_own_business_customer(
    app: FastAPI, signed_in: Browser, root: Creds, ms: FakeBotFramework, jane: User
) -> None:
    acme = await _business_customer(signed_in, "Acme", "admin@acme.example")
    globex = await _business_customer(signed_in, "Globex", "admin@globex.example")
    admin = Browser(app)
    try:
        await admin.sign_in("admin@acme.example", "Test@1234")
        home = await admin.get("/console/")
        assert "admin of Acme" in home.text
        listed = await admin.get("/console/teams/enterprises")
        assert "Acme" in listed.text and "Globex" not in listed.text
        assert "New business customer" not in listed.text
        assert (await admin.get(f"/console/teams/enterprises/{acme}")).status_code == 200
        other = await admin.get(f"/console/teams/enterprises/{globex}")
        assert other.status_code == 404 and "Globex" not in other.text
        # The admin manages its bot details, but cannot change its own status (the service's 403).
        body = bot_body(acme)
        saved = await admin.post(
            f"/console/teams/enterprises/{acme}/bot",
            {
                "applicationId": body["applicationId"],
                "tenantId": body["tenantId"],
                "clientSecret": "s3cret-value",
                "botAppId": body["botAppId"],
            },
        )
        assert saved.status_code == 303, saved.text
        refused = await admin.post(f"/console/teams/enterprises/{acme}", {"status": "CLOSED", "confirm": "yes"})
        assert refused.status_code == 403 and "Only the communications provider" in refused.text
        # Nor a mapping of another business customer.
        moved = await admin.post(
            f"/console/teams/enterprises/{globex}/mappings", {"microsoftAddress": jane.upn, "externalAddress": "+1555"}
        )
        assert moved.status_code == 404
        assert (await admin.get("/console/carriers")).status_code == 403
        usage = await admin.get("/console/usage")  # Acme only; the CSP sees both business customers
        assert re.search(r"Enterprises created .*</strong> — 1 in all", usage.text)
        assert re.search(r"Enterprises created .*</strong> — 2 in all", (await signed_in.get("/console/usage")).text)
        csv = await admin.get("/console/usage.csv")
        assert csv.text.strip().splitlines()[-1].endswith(",1")
        assert (await admin.get(f"/console/messages?account={root.sid}")).status_code == 404
    finally:
        await admin.close()


async def test_webex_enterprises_and_mappings(signed_in: Browser) -> None:
    await signed_in.get("/console/webex/enterprises")
    created = await signed_in.post("/console/webex/enterprises", {"name": "Contoso"})
    assert created.status_code == 303
    location = created.headers["location"].split("?")[0]
    taken = await signed_in.post("/console/webex/enterprises", {"name": "Contoso"})
    assert "code 460" in taken.text
    mapped = await signed_in.post(
        f"{location}/mappings", {"webexAddress": "bob@contoso.com", "externalAddress": "+15551230001", "name": "Bob"}
    )
    assert mapped.status_code == 303, mapped.text
    page = await signed_in.get(location)
    assert "bob@contoso.com" in page.text and "+15551230001" in page.text
    bad = await signed_in.post(f"{location}/mappings", {"webexAddress": "", "externalAddress": "nope"})
    assert bad.status_code == 400 and 'class="error"' in bad.text
    in_use = await signed_in.post(location, {"action": "delete", "confirm": "yes"})
    assert in_use.status_code == 409 and "code 482" in in_use.text
    listed = await signed_in.get("/console/webex/enterprises")
    assert "Contoso" in listed.text and "No Webex bot for this account yet." in listed.text


async def test_message_log_filters_and_detail_with_callback_attempts(
    app: FastAPI, client: httpx.AsyncClient, signed_in: Browser, root: Creds, own_number: OwnNumber, sink: CallbackSink
) -> None:
    await own_number(root, "+15550001111")
    sink.respond("/status", status=500, times=1)
    sent = []
    for to in ("+15551230001", "+15005550002"):
        response = await client.post(
            f"/api/2012-04-24/Accounts/{root.sid}/Messages.json",
            auth=root.auth,
            json={
                "from": "sms:+15550001111",
                "to": f"sms:{to}",
                "body": f"hello {to}",
                "status_callback": sink.url("/status"),
                "status_callback_method": "POST",
            },
        )
        assert response.status_code in (200, 201), response.text
        sent.append(response.json()["sid"])
    await drain(app)
    log = await signed_in.get("/console/messages")
    assert log.status_code == 200
    assert sent[0] in log.text and sent[1] in log.text
    assert "delivered" in log.text and "undelivered" in log.text
    only = await signed_in.get("/console/messages", params={"Status": "undelivered"})
    assert sent[1] in only.text and sent[0] not in only.text
    by_to = await signed_in.get("/console/messages", params={"To": "+1555123%"})
    assert sent[0] in by_to.text and sent[1] not in by_to.text
    bad = await signed_in.get("/console/messages", params={"StartTime": "yesterday-ish"})
    assert bad.status_code == 400 and "StartTime" in bad.text
    detail = await signed_in.get(f"/console/messages/{sent[0]}")
    assert detail.status_code == 200
    text = detail.text[detail.text.index("Status timeline") :]
    # Every status change as message_events kept it, in order, with who took the message.
    assert text.index(">queued<") < text.index(">sending<") < text.index(">sent<") < text.index(">delivered<")
    assert "taken by carrier sandbox" in text
    assert sink.url("/status") in text
    assert "<td>500</td>" in text and "<td>200</td>" in text  # the failed first attempt, then the retry
    assert (await signed_in.get("/console/messages/SM00000000000000000000000000000000")).status_code == 404


async def test_numbers_page_lists_and_adds(signed_in: Browser, root: Creds, own_number: OwnNumber) -> None:
    await own_number(root, "+15550002222")
    page = await signed_in.get("/console/numbers")
    assert "+15550002222" in page.text
    added = await signed_in.post("/console/numbers", {"phoneNumber": "+15550003333", "friendlyName": "Desk"})
    assert added.status_code == 303
    assert "+15550003333" in (await signed_in.get("/console/numbers")).text
    taken = await signed_in.post("/console/numbers", {"phoneNumber": "+15550003333"})
    assert taken.status_code == 409 and "already in use" in taken.text
    bad = await signed_in.post("/console/numbers", {"phoneNumber": "12ab"})
    assert bad.status_code == 400 and 'aria-invalid="true"' in bad.text


async def test_carriers_page_for_root_only(
    app: FastAPI, client: httpx.AsyncClient, signed_in: Browser, root: Creds, make_account: MakeAccount
) -> None:
    response = await client.post(
        "/restcomm/2012-04-24/Carriers.json",
        auth=root.auth,
        data={
            "Name": "smsc-a",
            "Type": "smpp",
            "Host": "127.0.0.1",
            "Port": "2775",
            "SystemId": "esme",
            "Password": "pw123",
            "Tps": "50",
        },
    )
    assert response.status_code == 201, response.text
    page = await signed_in.get("/console/carriers")
    assert page.status_code == 200
    assert "smsc-a" in page.text and "pw123" not in page.text and "not running here" in page.text
    live = await signed_in.get("/console/carriers/live")
    assert live.status_code == 200 and 'hx-trigger="every 5s"' in live.text and "smsc-a" in live.text
    child = await make_account(root)
    other = Browser(app)
    try:
        await other.sign_in(child.email, child.password)
        assert (await other.get("/console/carriers")).status_code == 403
    finally:
        await other.close()


async def test_usage_charts_and_csv(
    app: FastAPI, client: httpx.AsyncClient, signed_in: Browser, root: Creds, own_number: OwnNumber
) -> None:
    await own_number(root, "+15550004444")
    for _ in range(3):
        response = await client.post(
            f"/api/2012-04-24/Accounts/{root.sid}/Messages.json",
            auth=root.auth,
            json={"from": "sms:+15550004444", "to": "sms:+15551239999", "body": "hi"},
        )
        assert response.status_code in (200, 201)
    await _business_customer(signed_in, "Acme", "admin@acme.example")
    daily = await signed_in.get("/console/usage")
    assert daily.status_code == 200
    assert daily.text.count('<svg class="chart"') == 3
    assert re.search(r"Messages \(SMS/MMS and exchange records\)</strong> — 3 in all", daily.text)
    assert re.search(r"Enterprises created .*</strong> — 1 in all", daily.text)
    monthly = await signed_in.get("/console/usage", params={"period": "monthly"})
    assert monthly.status_code == 200 and 'aria-current="page">Monthly' in monthly.text
    csv = await signed_in.get("/console/usage.csv", params={"period": "daily"})
    assert csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.strip().splitlines()
    assert lines[0] == "period,messages,mappings,enterprises"
    assert len(lines) == 31 and lines[-1].endswith(",3,0,1")


async def test_exchange_records_with_filters_and_the_admins_own_only(
    app: FastAPI,
    client: httpx.AsyncClient,
    signed_in: Browser,
    root: Creds,
    own_number: OwnNumber,
    ms: FakeBotFramework,
    jane: User,
) -> None:
    handset, mapped = "+15550000009", "+15557770001"
    await own_number(root, handset)
    created = await client.post("/msteams/enterprises", auth=root.auth, json=admin_body("Acme", "admin@acme.example"))
    sid = created.json()["data"]["sid"]
    assert (await client.post("/msteams/teamsbot", auth=root.auth, json=bot_body(sid))).status_code == 200
    body = {"microsoftAddress": jane.upn, "externalAddress": mapped, "enterpriseSid": sid}
    assert (await client.post("/msteams/mappings", auth=root.auth, json=body)).status_code == 200
    ms.install(APP_ID, jane)
    sms = await client.post(
        f"/2010-04-01/Accounts/{root.sid}/Messages.json",
        auth=root.auth,
        data={"From": handset, "To": mapped, "Body": "Hi Jane"},
    )
    assert sms.status_code == 201, sms.text
    await drain(app)
    page = await signed_in.get("/console/records")
    assert page.status_code == 200 and "15550000009" in page.text and "OUTBOUND" in page.text
    assert "15550000009" not in (await signed_in.get("/console/records", params={"direction": "INBOUND"})).text
    assert "15550000009" in (await signed_in.get("/console/records", params={"from": "1555000"})).text
    bad = await signed_in.get("/console/records", params={"type": "FAX"})
    assert bad.status_code == 400 and "type must be one of" in bad.text
    assert "No records." in (await signed_in.get("/console/records", params={"channel": "webex"})).text
    admin = Browser(app)
    try:
        await admin.sign_in("admin@acme.example", "Test@1234")
        own = await admin.get("/console/records", params={"channel": "webex"})  # the admin has Teams only
        assert "Teams message records of Acme" in own.text and "15550000009" in own.text
    finally:
        await admin.close()


async def test_message_log_of_a_sub_account(
    client: httpx.AsyncClient, signed_in: Browser, root: Creds, make_account: MakeAccount, own_number: OwnNumber
) -> None:
    child = await make_account(root)
    await own_number(child, "+15550005555")
    response = await client.post(
        f"/api/2012-04-24/Accounts/{child.sid}/Messages.json",
        auth=child.auth,
        json={"from": "sms:+15550005555", "to": "sms:+15551230005", "body": "from the child"},
    )
    sid = response.json()["sid"]
    mine = await signed_in.get("/console/messages")
    assert sid not in mine.text and f'<option value="{child.sid}"' in mine.text
    theirs = await signed_in.get("/console/messages", params={"account": child.sid})
    assert sid in theirs.text
    detail = await signed_in.get(f"/console/messages/{sid}", params={"account": child.sid})
    assert detail.status_code == 200 and "from the child" in detail.text
    stranger = await signed_in.get("/console/messages", params={"account": "AC" + "0" * 32})
    assert stranger.status_code == 404
