"""The bridge against the Bot Framework's finer rules: endorsements, key rotation, token lifetimes,
Teams-hosted pictures, fast acknowledgement, CLOSED business customers and per-user notices."""

from __future__ import annotations

import asyncio

import httpx

from message_exchange.exchange.models import ChatReceipt
from message_exchange.jobs.models import Job
from message_exchange.msteams import auth
from message_exchange.msteams.client import MAX_DOWNLOAD
from tests.fakes.botframework import FakeBotFramework
from tests.msteams.conftest import APP_ID, HANDSET, MAPPED, TENANT, World, count
from tests.support.pipeline import drain
from tests.webex.conftest import data

BOT_TENANT = "botframework.com"


async def test_a_key_not_endorsed_for_the_channel_and_hmac_tokens_are_refused(world: World) -> None:
    ms, jane = world.ms, world.jane
    # The fake's key is endorsed for msteams and webchat only (as Microsoft's keys list their channels).
    elsewhere = ms.message_activity(APP_ID, jane, "/to +15550000009 hi", channel_id="directline")
    response = await ms.post_activity(world.endpoint, elsewhere, ms.channel_token(APP_ID, ms.service_url))
    assert response.status_code == 401 and "endorsed" in response.json()["message"]
    activity = ms.message_activity(APP_ID, jane, "/to +15550000009 hi")
    secret = b"a-shared-secret-0123456789abcdef"
    hmac = ms.channel_token(APP_ID, ms.service_url, algorithm="HS256", signing_secret=secret)
    assert (await ms.post_activity(world.endpoint, activity, hmac)).status_code == 401
    assert await count(world.app, ChatReceipt) == 0 and await count(world.app, Job) == 0
    good = ms.channel_token(APP_ID, ms.service_url)
    assert (await ms.post_activity(world.endpoint, activity, good)).status_code == 200


async def test_a_rotated_signing_key_is_fetched_again(world: World) -> None:
    ms, jane = world.ms, world.jane
    first = ms.message_activity(APP_ID, jane, "help")
    assert (await ms.post_activity(world.endpoint, first, ms.channel_token(APP_ID, ms.service_url))).status_code == 200
    new_kid = ms.rotate_key()
    # Keys are fetched again for an unknown kid at most once a minute (a flood of made-up kids must not
    # hammer Microsoft): age the cache past that minute, as time would.
    keyset = auth._KEYSETS[world.app.state.settings.msteams_openid_metadata_url]
    keyset.fetched_at -= auth.REFRESH_INTERVAL + 1
    second = ms.message_activity(APP_ID, jane, "help")
    token = ms.channel_token(APP_ID, ms.service_url)
    assert (await ms.post_activity(world.endpoint, second, token)).status_code == 200
    assert new_kid in keyset.keys
    # Tokens signed with the previous key still verify while Microsoft lists it.
    third = ms.message_activity(APP_ID, jane, "help")
    old = ms.channel_token(APP_ID, ms.service_url, kid="fake-key-1", key=ms._published["fake-key-1"])
    assert (await ms.post_activity(world.endpoint, third, old)).status_code == 200


async def test_connector_tokens_are_fetched_again_once_they_expire(world: World) -> None:
    ms = world.ms
    ms.token_lifetime = 62  # the client renews a minute before expiry: this one is good for ~2 seconds
    await world.send_sms(HANDSET, MAPPED, "one")
    await world.send_sms(HANDSET, MAPPED, "two")
    assert [t for t in ms.token_requests if t[0] == BOT_TENANT] == [
        (BOT_TENANT, "https://api.botframework.com/.default")
    ]
    await asyncio.sleep(2.2)
    await world.send_sms(HANDSET, MAPPED, "three")
    assert len([t for t in ms.token_requests if t[0] == BOT_TENANT]) == 2
    assert [card["body"][1]["text"] for card in world.cards()] == ["one", "two", "three"]


async def test_a_pasted_picture_is_fetched_with_the_bots_token_and_sent_as_mms(
    world: World, client: httpx.AsyncClient
) -> None:
    ms = world.ms
    await world.send_sms(HANDSET, MAPPED, "show me")
    url = ms.add_hosted_image(b"\xff\xd8 fake jpeg", "image/jpeg")
    attachments = [
        {"contentType": "image/*", "contentUrl": url},
        {"contentType": "text/html", "content": f'<div><div><span><img src="{url}"></span></div></div>'},
    ]
    await world.jane_writes(None, attachments=attachments)
    assert ms.hosted_requests == [True]  # with the Bot Connector token: Teams-hosted content needs it
    [mms] = await world.sms_sent()
    assert (mms.channel, mms.to_address, mms.from_address) == ("mms", HANDSET, MAPPED)
    fetched = await client.get("/msteams/media/" + mms.media[0]["url"].rsplit("/", 1)[1])
    assert fetched.content == b"\xff\xd8 fake jpeg" and fetched.headers["content-type"] == "image/jpeg"


async def test_activities_are_acknowledged_at_once_and_processed_by_a_job(world: World) -> None:
    ms, jane = world.ms, world.jane
    response = await ms.user_sends(world.endpoint, APP_ID, jane, "/to +15550000009 later")
    assert response.status_code == 200
    assert await count(world.app, Job) == 1 and await world.sms_sent() == []  # nothing done yet but a job
    await drain(world.app)
    assert [m.body for m in await world.sms_sent()] == ["later"]


async def test_a_closed_business_customer_says_goodbye_and_carries_nothing(world: World) -> None:
    api, root, ms, jane = world.api, world.root, world.ms, world.jane
    await world.send_sms(HANDSET, MAPPED, "hello")
    closed = data(await api(root, "PUT", f"/msteams/enterprises/{world.enterprise}", json={"status": "CLOSED"}))
    assert closed["status"] == "CLOSED"
    await drain(world.app)
    assert "has ended" in world.texts()[-1]
    await world.jane_writes("/to +15550000009 still there?")
    assert "has ended" in world.texts()[-1]
    assert await world.sms_sent() == []
    before = len(ms.activities_to(APP_ID, jane))
    await world.send_sms(HANDSET, MAPPED, "anyone?")  # the number is no longer mapped (nor ours)
    assert len(ms.activities_to(APP_ID, jane)) == before
    assert len(await world.records()) == 1


async def test_each_user_gets_one_status_notice_even_when_another_users_post_fails(world: World) -> None:
    api, root, ms, jane = world.api, world.root, world.ms, world.jane
    bob = ms.add_user(TENANT, "bob@contoso.com", "Bob")
    ms.install(APP_ID, bob)
    body = {"microsoftAddress": bob.upn, "externalAddress": "15557770002", "enterpriseSid": world.enterprise}
    data(await api(root, "POST", "/msteams/mappings", json=body))
    await world.send_sms(HANDSET, MAPPED, "for jane")
    await world.send_sms(HANDSET, "+15557770002", "for bob")
    bob_chat = ms.conversation_of(APP_ID, bob)
    assert bob_chat is not None and len(bob_chat.activities) == 1
    ms.fail_conversation(bob_chat.id, 503, times=3)  # more than the client's own retries: the job runs again
    data(await api(root, "PUT", f"/msteams/enterprises/{world.enterprise}", json={"status": "INACTIVE"}))
    await drain(world.app)
    notices = [a["text"] for a in ms.activities_to(APP_ID, jane) if "paused" in a.get("text", "")]
    assert len(notices) == 1
    assert len([a for a in bob_chat.activities if "paused" in a.get("text", "")]) == 1


async def test_the_bots_token_goes_to_no_host_but_the_activitys_service(world: World) -> None:
    await world.send_sms(HANDSET, MAPPED, "picture?")
    async with FakeBotFramework() as elsewhere:  # another server the allow-list would also match
        url = elsewhere.add_hosted_image(b"GIF89a", "image/gif")
        await world.jane_writes("look", attachments=[{"contentType": "image/gif", "contentUrl": url}])
        assert elsewhere.hosted_requests == [False]  # asked without the token, so it refused
    [sms] = await world.sms_sent()
    assert (sms.channel, sms.body, list(sms.media)) == ("sms", "look", [])
    assert world.texts()[-1] == f"⚠ Sent to {HANDSET} without a picture (it could not be downloaded)."


async def test_a_file_too_large_for_mms_is_left_out_and_the_user_told(world: World) -> None:
    ms = world.ms
    await world.send_sms(HANDSET, MAPPED, "the contract?")
    url = ms.add_file(b"%PDF" + b"0" * MAX_DOWNLOAD, "application/pdf")
    attachment = {
        "contentType": "application/vnd.microsoft.teams.file.download.info",
        "name": "contract.pdf",
        "content": {"downloadUrl": url, "uniqueId": "2", "fileType": "pdf"},
    }
    await world.jane_writes(None, attachments=[attachment])
    assert await world.sms_sent() == []
    assert world.texts()[-1].endswith(f"Nothing was sent to {HANDSET}: contract.pdf (larger than 5 MB).")


async def test_a_single_tenant_bot_gets_its_connector_tokens_from_its_own_tenant(world: World) -> None:
    ms = world.ms
    ms.apps[APP_ID].single_tenant = True  # an Azure bot created as SingleTenant (the only kind since 2025)
    await world.send_sms(HANDSET, MAPPED, "one")
    await world.send_sms(HANDSET, MAPPED, "two")
    assert [card["body"][1]["text"] for card in world.cards()] == ["one", "two"]
    bot_scope = "https://api.botframework.com/.default"
    # botframework.com refused it once (AADSTS700016); from then on its own tenant is asked, and its token cached.
    assert [t for t in ms.token_requests if t[1] == bot_scope] == [(BOT_TENANT, bot_scope), (TENANT, bot_scope)]
