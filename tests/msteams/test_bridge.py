"""The bridge end to end: sandbox carrier ⇄ exchange ⇄ fake Bot Framework, over real HTTP both ways.

The app is served on a loopback port (the fake channel POSTs signed activities to it); its
Microsoft client talks to the fake's token authority, Graph and Bot Connector on another.
Jobs run through a real worker (``drain``).
"""

from __future__ import annotations

from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa

from message_exchange.exchange.models import ChatReceipt, ExchangeMessage
from message_exchange.jobs.models import Job
from tests.fakes.botframework import FakeBotFramework, User
from tests.msteams.conftest import APP_ID, HANDSET, MAPPED, TENANT, UNREACHABLE, World, count
from tests.support.accounts import OwnNumber
from tests.support.pipeline import drain
from tests.webex.conftest import Api, data


async def test_an_sms_becomes_a_card_in_the_users_chat_and_the_reply_goes_back_by_sms(world: World) -> None:
    ms, jane = world.ms, world.jane
    await world.send_sms(HANDSET, MAPPED, "Is the shop open?")
    conversation = ms.conversation_of(APP_ID, jane)
    assert conversation is not None  # created with POST /v3/conversations (1:1, the fake allows no other)
    [card] = world.cards()
    assert card["body"][0]["text"] == f"SMS from {HANDSET}" and card["body"][1]["text"] == "Is the shop open?"
    assert card["body"][-1]["type"] == "Input.Text"
    [action] = card["actions"]
    assert (action["type"], action["title"]) == ("Action.Submit", "Reply")
    [record] = await world.records(direction="OUTBOUND")
    assert (record["from"], record["to"], record["type"], record["channelStatus"]) == (
        HANDSET[1:],
        jane.upn,
        "SMS",
        "DELIVERED",
    )
    assert record["sid"].startswith("MS") and record["restcommMessageSid"].startswith("SM")

    # Jane answers on the card: Teams sends the card's data and the text typed in its box.
    value = {**action["data"], "replyText": "Yes, until 6pm"}
    response = await world.jane_writes(None, value=value)
    assert response.status_code == 200
    [sms] = await world.sms_sent()
    assert (sms.from_address, sms.to_address, sms.body, sms.channel) == (MAPPED, HANDSET, "Yes, until 6pm", "sms")
    [reply] = await world.records(direction="INBOUND")
    assert (reply["from"], reply["to"], reply["channelStatus"]) == (jane.upn, HANDSET[1:], "DELIVERED")
    assert reply["restcommMessageSid"] == sms.sid

    # A plain message goes to the number she last texted with; /to starts another conversation.
    await world.jane_writes("See you")
    await world.jane_writes("/to +1 555 000 0009 hello again")
    await world.jane_writes("/to +15550000008 hi there")
    sent = [(m.to_address, m.body) for m in await world.sms_sent()]
    assert sent[1:] == [(HANDSET, "See you"), (HANDSET, "hello again"), ("+15550000008", "hi there")]
    await world.jane_writes("help")
    assert "/to +15551234567" in world.texts()[-1]
    await world.jane_writes("/to tomorrow at noon")
    assert world.texts()[-1].startswith("Write the number with its country code")
    assert len(await world.sms_sent()) == 4
    # One Bot Connector token served every call (cached until it expires).
    assert [t for t in ms.token_requests if t[0] == "botframework.com"] == [
        ("botframework.com", "https://api.botframework.com/.default")
    ]


async def test_bad_tokens_are_refused_with_401_and_nothing_is_stored(world: World) -> None:
    ms, jane = world.ms, world.jane
    activity = ms.message_activity(APP_ID, jane, "hello")
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    bad = {
        "expired": ms.channel_token(APP_ID, ms.service_url, expires_in=-3600),
        "wrong audience": ms.channel_token(APP_ID, ms.service_url, audience="another-app"),
        "unknown kid": ms.channel_token(APP_ID, ms.service_url, kid="unknown-key"),
        "forged signature": ms.channel_token(APP_ID, ms.service_url, key=other_key),
        "serviceurl mismatch": ms.channel_token(APP_ID, "https://smba.trafficmanager.net/amer/"),
        "wrong issuer": ms.channel_token(APP_ID, ms.service_url, issuer="https://sts.example.com/"),
        "garbage": "not-a-jwt",
    }
    for why, token in bad.items():
        response = await ms.post_activity(world.endpoint, activity, token)
        assert response.status_code == 401, why
        assert response.json()["errorCode"] == "401"
    assert (await ms.post_activity(world.endpoint, activity, None)).status_code == 401
    # A good token for another business customer's endpoint (or an unknown one) is refused too.
    good = ms.channel_token(APP_ID, ms.service_url)
    unknown = world.endpoint.rsplit("/", 1)[0] + "/EN" + "0" * 32
    assert (await ms.post_activity(unknown, activity, good)).status_code == 401
    # A serviceUrl outside the allowed hosts, even with a matching claim.
    elsewhere = {**activity, "serviceUrl": "https://evil.example.com/"}
    token = ms.channel_token(APP_ID, "https://evil.example.com/")
    assert (await ms.post_activity(world.endpoint, elsewhere, token)).status_code == 401
    assert await count(world.app, ChatReceipt) == 0
    assert await count(world.app, Job) == 0
    # Skew within the leeway is accepted.
    slightly_late = ms.channel_token(APP_ID, ms.service_url, expires_in=-60)
    assert (await ms.post_activity(world.endpoint, activity, slightly_late)).status_code == 200


async def test_an_activity_delivered_twice_sends_one_sms(world: World) -> None:
    await world.send_sms(HANDSET, MAPPED, "ping")
    [card] = world.cards()
    value = {**card["actions"][0]["data"], "replyText": "pong"}
    first = await world.jane_writes(None, value=value, activity_id="1700000000001")
    again = await world.jane_writes(None, value=value, activity_id="1700000000001")
    assert first.status_code == again.status_code == 200
    assert [m.body for m in await world.sms_sent()] == ["pong"]


async def test_an_inactive_business_customer_refuses_traffic_both_ways(world: World) -> None:
    api, root = world.api, world.root
    await world.send_sms(HANDSET, MAPPED, "first")
    data(await api(root, "PUT", f"/msteams/enterprises/{world.enterprise}", json={"status": "INACTIVE"}))
    await drain(world.app)
    assert "paused" in world.texts()[-1]  # the users are told
    await world.send_sms(HANDSET, MAPPED, "while inactive")
    assert len(world.cards()) == 1
    refused = await world.records(channelErrorCode="inactive")
    assert [(r["direction"], r["channelStatus"]) for r in refused] == [("OUTBOUND", "FAILED")]
    await world.jane_writes("/to +15550000009 are you there")
    assert await world.sms_sent() == []
    assert "paused" in world.texts()[-1]

    data(await api(root, "PUT", f"/msteams/enterprises/{world.enterprise}", json={"status": "ACTIVE"}))
    await drain(world.app)
    assert "available again" in world.texts()[-1]
    await world.send_sms(HANDSET, MAPPED, "back")
    assert len(world.cards()) == 2
    await world.jane_writes("/to +15550000009 welcome back")
    assert [m.body for m in await world.sms_sent()] == ["welcome back"]


async def test_connector_throttling_is_retried_and_delivery_failures_are_told(world: World) -> None:
    ms = world.ms
    ms.fail_next(429, times=1, retry_after=0)
    ms.fail_next(503, times=3)  # more than the client's own retries: the job retries later
    await world.send_sms(HANDSET, MAPPED, "persistent")
    assert len(world.cards()) == 1
    statuses = [status for _, _, status in ms.connector_calls]
    assert statuses[:4] == [429, 503, 503, 503] and statuses[-1] == 201
    await world.jane_writes(f"/to {UNREACHABLE} are you there")
    [record] = await world.records(direction="INBOUND")
    assert (record["channelStatus"], record["channelErrorCode"]) == ("UNDELIVERED", "30003")
    assert world.texts()[-1].startswith(f"⚠ Not delivered to {UNREACHABLE}")
    failed = await world.records(channelStatus="undeliv", channelErrorMessage="")
    assert [r["sid"] for r in failed] == [record["sid"]]


async def test_a_file_the_user_attaches_is_downloaded_and_sent_as_mms(world: World, client: httpx.AsyncClient) -> None:
    ms = world.ms
    await world.send_sms(HANDSET, MAPPED, "send me the picture")
    url = ms.add_file(b"\x89PNG fake image", "image/png")
    attachment = {
        "contentType": "application/vnd.microsoft.teams.file.download.info",
        "name": "photo.png",
        "contentUrl": "https://contoso.sharepoint.com/photo.png",
        "content": {"downloadUrl": url, "uniqueId": "1", "fileType": "png"},
    }
    await world.jane_writes("here it is", attachments=[attachment])
    [mms] = await world.sms_sent()
    assert (mms.channel, mms.body, mms.to_address) == ("mms", "here it is", HANDSET)
    [media] = mms.media
    assert "/msteams/media/ME" in media["url"]
    path = "/msteams/media/" + media["url"].rsplit("/", 1)[1]
    fetched = await client.get(path)
    assert fetched.status_code == 200 and fetched.content == b"\x89PNG fake image"
    assert fetched.headers["content-type"] == "image/png"
    [record] = await world.records(direction="INBOUND")
    assert record["type"] == "MMS"
    assert (await client.get("/msteams/media/ME" + "0" * 32)).status_code == 404


async def test_an_mms_shows_its_pictures_and_files_on_the_card(world: World) -> None:
    media = ["https://cdn.example.com/a.jpg", "https://cdn.example.com/menu.pdf"]
    await world.send_sms(HANDSET, MAPPED, "photos", media)
    [card] = world.cards()
    elements = [(e["type"], e.get("url") or e.get("text")) for e in card["body"][:-1]]
    assert elements == [
        ("TextBlock", f"SMS from {HANDSET}"),
        ("TextBlock", "photos"),
        ("Image", media[0]),
        ("TextBlock", f"[attachment]({media[1]})"),
    ]
    [record] = await world.records()
    assert (record["type"], record["direction"], record["channelStatus"]) == ("MMS", "OUTBOUND", "DELIVERED")


async def test_a_user_without_the_bot_installed_gets_nothing_and_the_record_says_why(
    world: World, ms: FakeBotFramework
) -> None:
    ms.installed.clear()
    await world.send_sms(HANDSET, MAPPED, "hello?")
    [record] = await world.records()
    assert (record["channelStatus"], record["channelErrorCode"]) == ("FAILED", "403")
    assert "roster" in record["channelErrorMessage"]
    # A Teams user with no mapping is told so.
    stranger = ms.add_user(TENANT, "sam@contoso.com", "Sam")
    response = await ms.user_sends(world.endpoint, APP_ID, stranger, "/to +15550000009 hi")
    await drain(world.app)
    assert response.status_code == 200
    assert ms.activities_to(APP_ID, stranger)[-1]["text"].startswith("No phone number is mapped")
    assert await world.sms_sent() == []


async def test_records_are_not_visible_to_another_csp(world: World, api: Api, make_account: Any) -> None:
    await world.send_sms(HANDSET, MAPPED, "private")
    [record] = await world.records()
    other = await make_account()
    assert data(await api(other, "GET", "/msteams/messages/search"))["total"] == 0
    response = await api(other, "GET", f"/msteams/messages/search/{record['sid']}")
    assert response.status_code == 409 and response.json()["errorCode"] == "481"
    admin = httpx.BasicAuth("admin@acme.example", "Test@1234")
    assert [r["sid"] for r in data(await api(admin, "GET", "/msteams/messages/search"))["result"]] == [record["sid"]]
    assert data(await api(world.root, "GET", f"/msteams/messages/search/{record['sid']}")) == record
    assert await count(world.app, ExchangeMessage) == 1


async def test_the_installation_update_gives_the_conversation_used_for_later_sms(world: World) -> None:
    ms, jane = world.ms, world.jane
    installed = {**ms.message_activity(APP_ID, jane, None), "type": "conversationUpdate"}
    installed["membersAdded"] = [{"id": f"28:{APP_ID}"}]
    response = await ms.post_activity(world.endpoint, installed, ms.channel_token(APP_ID, ms.service_url))
    assert response.status_code == 200
    await drain(world.app)
    await world.send_sms(HANDSET, MAPPED, "hello")
    assert len(world.cards()) == 1
    # The conversation Teams told us about was used: none was created.
    assert [path for _, path, _ in ms.connector_calls if path == "/v3/conversations"] == []


async def test_the_fake_connector_creates_only_one_to_one_conversations(ms: FakeBotFramework, jane: User) -> None:
    ms.install(APP_ID, jane)
    bob = ms.add_user(TENANT, "bob@contoso.com", "Bob")
    async with httpx.AsyncClient() as http:
        token = (
            await http.post(
                f"{ms.base_url}/botframework.com/oauth2/v2.0/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": APP_ID,
                    "client_secret": ms.apps[APP_ID].secret,
                    "scope": "https://api.botframework.com/.default",
                },
            )
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        base = {"bot": {"id": f"28:{APP_ID}"}, "tenantId": TENANT}
        group = {**base, "isGroup": True, "members": [{"id": jane.object_id}, {"id": bob.object_id}]}
        assert (await http.post(f"{ms.base_url}/v3/conversations", json=group, headers=headers)).status_code == 400
        one = {**base, "members": [{"id": jane.object_id}]}
        created = await http.post(f"{ms.base_url}/v3/conversations", json=one, headers=headers)
        assert created.status_code == 201
        not_installed = {**base, "members": [{"id": bob.object_id}]}
        assert (
            await http.post(f"{ms.base_url}/v3/conversations", json=not_installed, headers=headers)
        ).status_code == 403
        assert (await http.post(f"{ms.base_url}/v3/conversations", json=one)).status_code == 401


async def test_a_number_a_sub_account_owns_sends_as_that_account(
    world: World, make_account: Any, own_number: OwnNumber
) -> None:
    ms, api, root = world.ms, world.api, world.root
    sub = await make_account(world.root)
    await own_number(sub, "+15557770005")
    bob = ms.add_user(TENANT, "bob@contoso.com", "Bob")
    ms.install(APP_ID, bob)
    body = {"microsoftAddress": bob.upn, "externalAddress": "15557770005", "enterpriseSid": world.enterprise}
    data(await api(root, "POST", "/msteams/mappings", json=body))
    response = await ms.user_sends(world.endpoint, APP_ID, bob, "/to +15550000009 from the branch office")
    await drain(world.app)
    assert response.status_code == 200
    [sms] = await world.sms_sent()
    assert (sms.account_sid, sms.from_address, sms.body) == (sub.sid, "+15557770005", "from the branch office")
    assert sms.status != "failed"
