"""The bridge end to end: sandbox carrier ⇄ exchange ⇄ fake Webex, over real HTTP both ways.

The app is served on a loopback port (Webex's webhooks reach it there); its Webex client
talks to the fake Webex on another. Jobs run through a real worker (``drain``).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update

from message_exchange.config import Settings
from message_exchange.exchange.models import ChatReceipt, ExchangeMessage
from message_exchange.inbound.service import InboundMedia, InboundMessage, receive
from message_exchange.jobs.models import Job
from message_exchange.jobs.worker import Worker
from message_exchange.messages.models import Message
from tests.conftest import TEST_SECRET_KEY
from tests.fakes.loopback import LoopbackServer
from tests.fakes.webex import FakeWebex, Person, Room
from tests.support.accounts import Creds, MakeAccount, OwnNumber
from tests.support.pipeline import drain, pipeline_settings
from tests.webex.conftest import Api, data, error

MAPPED = "+15557770001"  # jane's externalAddress
GROUP = "+15557770002"  # jane + bob
HANDSET = "+15550000009"  # a number root owns (unmapped): the sandbox loops SMS to it back as inbound
SECRET = "whsec-0123456789"
CHILDS = "+15557770003"  # a sub-account's own number, mapped by the CSP


@pytest.fixture
def settings(database_url: str, tmp_path: Path, webex: FakeWebex) -> Settings:
    # One job at a time: the sandbox's receipt and its loopback inbound (same carrier id) must not race.
    return pipeline_settings(
        database_url, tmp_path, TEST_SECRET_KEY, webex_api_base_url=webex.base_url, worker_concurrency=1
    )


@pytest.fixture
async def server(app: FastAPI) -> AsyncIterator[LoopbackServer]:
    served = LoopbackServer(app)
    await served.start()
    yield served
    await served.stop()


class World:
    def __init__(self, app: FastAPI, api: Api, root: Creds, webex: FakeWebex, bot: Person, mapping: dict[str, Any]):
        self.app, self.api, self.root, self.webex, self.bot, self.mapping = app, api, root, webex, bot, mapping

    async def send_sms(self, from_: str, to: str, body: str, media: list[str] | None = None) -> None:
        """A handset texts ``to``: an SMS from a root number through the sandbox, looped back as inbound."""
        form: list[tuple[str, str]] = [("From", from_), ("To", to), ("Body", body)]
        form += [("MediaUrl", url) for url in media or []]
        response = await self.api(
            self.root,
            "POST",
            f"/2010-04-01/Accounts/{self.root.sid}/Messages.json",
            content=urlencode(form),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert response.status_code == 201, response.text
        await drain(self.app)

    async def records(self, **params: str) -> list[dict[str, Any]]:
        found = data(await self.api(self.root, "GET", "/webex/webexteams/messages/search", params=params))
        return list(found["result"])

    def space(self, title: str) -> Room:
        [room] = self.webex.rooms_titled(title)
        return room

    def texts(self, room: Room) -> list[str | None]:
        return [m.text for m in self.webex.messages_in(room.id)]


@pytest.fixture
async def world(
    app: FastAPI, api: Api, root: Creds, own_number: OwnNumber, webex: FakeWebex, server: LoopbackServer
) -> World:
    bot = webex.add_bot("SMS Bot", "smsbot@webex.bot")
    await own_number(root, HANDSET)
    saved = data(
        await api(
            root,
            "PUT",
            "/webex/bot",
            json={"accessToken": bot.token, "webhookSecret": SECRET, "publicUrl": server.base_url},
        )
    )
    assert saved["accessToken"] != bot.token and saved["accessToken"].endswith(str(bot.token)[-2:])
    assert saved["botId"] == bot.id and saved["webhookUrl"] == f"{server.base_url}/webex/bot/webhook/{root.sid}"
    [hook] = webex.webhooks.values()
    assert (hook.resource, hook.event, hook.secret, hook.target_url) == (
        "messages",
        "created",
        SECRET,
        saved["webhookUrl"],
    )
    enterprise = data(await api(root, "POST", "/webex/enterprise", json={"name": "Acme"}))
    mapping = data(
        await api(
            root,
            "POST",
            f"/webex/webexteams/mappings/{enterprise['sid']}",
            json={"webexAddress": "jane@acme.com", "externalAddress": MAPPED},
        )
    )
    return World(app, api, root, webex, bot, mapping)


async def _drain_concurrently(app: FastAPI, concurrency: int, timeout: float = 30.0) -> None:
    """``drain`` with several jobs claimed and run at once."""
    settings = app.state.settings.model_copy(update={"worker_concurrency": concurrency})
    worker = Worker(settings, app.state.session_factory)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if await worker.run_pending() == 0:
            async with app.state.session_factory() as session:
                query = select(func.count()).select_from(Job).where(Job.status.in_(("pending", "running")))
                if (await session.execute(query)).scalar_one() == 0:
                    return
            await asyncio.sleep(0.05)
    raise AssertionError("jobs still unfinished")


async def _count(app: FastAPI, model: Any) -> int:
    async with app.state.session_factory() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def test_sms_to_a_mapped_number_opens_a_space_and_a_mention_answers_by_sms(world: World) -> None:
    webex, bot = world.webex, world.bot
    await world.send_sms(HANDSET, MAPPED, "Is the shop open?")
    room = world.space(HANDSET)
    jane = webex.person("jane@acme.com")
    assert room.type == "group" and room.members == [bot.id, jane.id]
    texts = world.texts(room)
    assert texts[0] is not None and "@SMS Bot" in texts[0]  # the intro says how to answer
    assert texts[1:] == ["Is the shop open?"]
    [inbound] = await world.records(direction="INBOUND")
    assert (inbound["from"], inbound["to"], inbound["type"], inbound["channelStatus"]) == (
        HANDSET[1:],
        "jane@acme.com",
        "SMS",
        "delivered",
    )

    # Without the mention Webex does not tell the bot: nothing is sent.
    await webex.user_posts("jane@acme.com", room.id, "let me check first")
    await drain(world.app)
    assert await world.records(direction="OUTBOUND") == []

    await webex.user_posts("jane@acme.com", room.id, "Yes, until 6pm", mention=bot)
    await drain(world.app)
    [outbound] = await world.records(direction="OUTBOUND")
    assert (outbound["from"], outbound["to"], outbound["type"]) == (MAPPED[1:], HANDSET[1:], "SMS")
    assert outbound["channelStatus"] == "delivered"  # the sandbox's receipt, copied onto the record
    async with world.app.state.session_factory() as session:
        [sms] = (await session.execute(select(Message).where(Message.created_via == "webex"))).scalars()
    assert (sms.from_address, sms.to_address, sms.body) == (MAPPED, HANDSET, "Yes, until 6pm")
    # The bot's own posts (intro, relayed text) reached the webhook too and were ignored.
    assert all(d.status == 200 for d in webex.deliveries)
    assert len(await world.records()) == 2


async def test_mms_media_become_file_messages_in_order_and_webex_files_become_mms(world: World) -> None:
    webex, bot = world.webex, world.bot
    media = ["https://cdn.example.com/a.jpg", "https://cdn.example.com/b.png"]
    await world.send_sms(HANDSET, MAPPED, "photos", media)
    room = world.space(HANDSET)
    posted = webex.messages_in(room.id)[1:]
    assert [(m.text, m.files) for m in posted] == [("photos", []), (None, [media[0]]), (None, [media[1]])]
    [inbound] = await world.records(direction="INBOUND")
    assert inbound["type"] == "MMS"

    file_url = webex.upload(b"\x89PNG fake image", "image/png")
    await webex.user_posts("jane@acme.com", room.id, "here", mention=bot, files=[file_url])
    await drain(world.app)
    [outbound] = await world.records(direction="OUTBOUND")
    assert outbound["type"] == "MMS"
    async with world.app.state.session_factory() as session:
        [sms] = (await session.execute(select(Message).where(Message.created_via == "webex"))).scalars()
    assert sms.channel == "mms" and sms.body == "here"
    # The carrier fetches the media from us; we fetch it from Webex with the bot's token.
    async with httpx.AsyncClient() as http:
        fetched = await http.get(sms.media[0]["url"])
    assert fetched.status_code == 200 and fetched.content == b"\x89PNG fake image"
    assert fetched.headers["content-type"] == "image/png"
    # Webex down: 502, so the carrier knows to fetch again; a made-up link: 404.
    webex.fail(times=1, status=503, only="GET /v1/contents/")
    async with httpx.AsyncClient() as http:
        down = await http.get(sms.media[0]["url"])
        forged = await http.get(sms.media[0]["url"].rsplit("/", 1)[0] + "/not-a-token")
    assert (down.status_code, down.json()["errorCode"]) == (502, "502")
    assert (forged.status_code, forged.json()["errorCode"]) == (404, "404")


async def test_one_to_one_space_starts_a_conversation_and_failures_show_in_the_space(world: World) -> None:
    webex, bot = world.webex, world.bot
    jane = webex.person("jane@acme.com")
    direct = webex.direct_room(bot, jane)
    await webex.user_posts("jane@acme.com", direct.id, "hello there")  # no number: help, nothing sent
    await drain(world.app)
    assert "+15551234567" in str(world.texts(direct)[-1])

    await webex.user_posts("jane@acme.com", direct.id, "+1 500-555-0002 are you there?")
    await drain(world.app)
    room = world.space("+15005550002")
    assert room.members == [bot.id, jane.id]
    [outbound] = await world.records(direction="OUTBOUND")
    assert outbound["to"] == "15005550002" and outbound["channelStatus"] == "undelivered"
    assert outbound["channelErrorCode"] == "30003"
    assert "Not delivered to +15005550002" in str(world.texts(room)[-1])
    assert "30003" in str(world.texts(room)[-1])
    assert (await world.records(channelErrorMessage="unreachable"))[0]["sid"] == outbound["sid"]


async def test_signature_failures_are_401_and_store_nothing(world: World, server: LoopbackServer) -> None:
    url = f"{server.base_url}/webex/bot/webhook/{world.root.sid}"
    body = (
        b'{"resource":"messages","event":"created","data":{"id":"Y2lzY29zcGFyazovL3VzL01FU1NBR0UvMQ","personId":"x"}}'
    )
    jobs_before = await _count(world.app, Job)
    async with httpx.AsyncClient() as http:
        signatures: list[bytes] = [
            b"0" * 40,
            "é".encode() * 20,
            hmac.new(b"wrong", body, hashlib.sha1).hexdigest().encode(),
        ]
        for headers in [{}, *({b"X-Spark-Signature": value} for value in signatures)]:
            response = await http.post(url, content=body, headers=headers)
            assert response.status_code == 401
            assert response.json()["errorCode"] == "401"
        good = hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()
        unknown = await http.post(
            f"{server.base_url}/webex/bot/webhook/ACnobody", content=body, headers={"X-Spark-Signature": good}
        )
        assert unknown.status_code == 401
        garbage = b"{not json"
        signed = hmac.new(SECRET.encode(), garbage, hashlib.sha1).hexdigest()
        response = await http.post(url, content=garbage, headers={"X-Spark-Signature": signed})
        assert (response.status_code, response.json()["errorCode"]) == (400, "400")
    assert await _count(world.app, ChatReceipt) == 0
    assert await _count(world.app, Job) == jobs_before


async def test_a_repeated_webhook_sends_one_sms(world: World, server: LoopbackServer) -> None:
    webex, bot = world.webex, world.bot
    await world.send_sms(HANDSET, MAPPED, "hi")
    room = world.space(HANDSET)
    await webex.user_posts("jane@acme.com", room.id, "hello back", mention=bot)
    delivery = webex.deliveries[-1]
    async with httpx.AsyncClient() as http:
        again = await http.post(
            f"{server.base_url}/webex/bot/webhook/{world.root.sid}",
            content=delivery.body,
            headers={"X-Spark-Signature": str(delivery.signature), "Content-Type": "application/json"},
        )
    assert again.status_code == 200
    await drain(world.app)
    assert len(await world.records(direction="OUTBOUND")) == 1


async def test_webex_429_is_retried_after_retry_after(world: World) -> None:
    world.webex.throttle(times=2, retry_after=0.05)
    await world.send_sms(HANDSET, MAPPED, "still there?")
    assert world.texts(world.space(HANDSET))[-1] == "still there?"
    [inbound] = await world.records(direction="INBOUND")
    assert inbound["channelStatus"] == "delivered"


async def test_a_deleted_mapping_stops_both_directions(world: World) -> None:
    webex, bot = world.webex, world.bot
    await world.send_sms(HANDSET, MAPPED, "first")
    room = world.space(HANDSET)
    data(await world.api(world.root, "DELETE", f"/webex/webexteams/mappings/{world.mapping['sid']}"))
    before = len(webex.messages_in(room.id))
    await world.send_sms(HANDSET, MAPPED, "second")
    assert len(webex.messages_in(room.id)) == before  # no Webex post
    await webex.user_posts("jane@acme.com", room.id, "reply", mention=bot)
    await drain(world.app)
    assert await world.records(direction="OUTBOUND") == []
    assert "no longer sent" in str(world.texts(room)[-1])
    assert len(await world.records(direction="INBOUND")) == 1


async def test_group_mapping_space_has_every_user_and_only_mapped_users_send(world: World) -> None:
    webex, bot = world.webex, world.bot
    enterprise_sid = world.mapping["enterpriseSid"]
    data(
        await world.api(
            world.root,
            "POST",
            f"/webex/webexteams/mappings/{enterprise_sid}",
            json={"webexAddress": "ann@acme.com, bob@acme.com", "externalAddress": GROUP},
        )
    )
    await world.send_sms(HANDSET, GROUP, "team?")
    room = world.space(HANDSET)
    assert room.members == [bot.id, webex.person("ann@acme.com").id, webex.person("bob@acme.com").id]
    [inbound] = await world.records(direction="INBOUND")
    assert inbound["to"] == "ann@acme.com,bob@acme.com"
    await webex.user_posts("bob@acme.com", room.id, "on it", mention=bot)
    await drain(world.app)
    [outbound] = await world.records(direction="OUTBOUND")
    assert (outbound["from"], outbound["to"]) == (GROUP[1:], HANDSET[1:])


async def test_inbound_from_a_carrier_without_a_bot_is_recorded_as_failed(app: FastAPI, api: Api, root: Creds) -> None:
    enterprise = data(await api(root, "POST", "/webex/enterprise", json={"name": "NoBot"}))
    data(
        await api(
            root,
            "POST",
            f"/webex/webexteams/mappings/{enterprise['sid']}",
            json={"webexAddress": "jane@acme.com", "externalAddress": MAPPED},
        )
    )
    async with app.state.session_factory() as session, session.begin():
        inbound = InboundMessage(
            "smsc", "id-1", HANDSET, MAPPED, "hi", media=(InboundMedia("https://x.example/a.jpg"),)
        )
        assert await receive(session, inbound, settings=app.state.settings) is not None
    await drain(app)
    async with app.state.session_factory() as session:
        [record] = (await session.execute(select(ExchangeMessage))).scalars()
    assert (record.direction, record.type, record.channel_status, record.channel_error_code) == (
        "INBOUND",
        "MMS",
        "failed",
        "no_bot",
    )
    error(await api(root, "GET", "/webex/bot"), 404, "404")


async def test_bot_settings_are_masked_replaced_and_removed(
    world: World, api: Api, root: Creds, server: LoopbackServer, webex: FakeWebex
) -> None:
    shown = data(await api(root, "GET", "/webex/bot"))
    assert set(shown) >= {"accessToken", "webhookSecret", "botId", "botEmail", "botName", "webhookId", "webhookUrl"}
    assert SECRET not in shown["webhookSecret"] and shown["webhookSecret"].startswith("****")
    assert (shown["botEmail"], shown["botName"], shown["webexApiUrl"]) == (
        "smsbot@webex.bot",
        "SMS Bot",
        webex.base_url,
    )
    body = {"accessToken": world.bot.token, "webhookSecret": "rotated-secret", "publicUrl": server.base_url}
    data(await api(root, "PUT", "/webex/bot", json=body))
    [hook] = webex.webhooks.values()  # re-saving replaces our webhook instead of adding one
    assert hook.secret == "rotated-secret"
    for bad in (
        {**body, "accessToken": "not-a-token"},
        {**body, "accessToken": "tök€n"},
        {**body, "webhookSecret": ""},
        {"webhookSecret": "x"},
        {**body, "publicUrl": "ftp://example.com"},
    ):
        error(await api(root, "PUT", "/webex/bot", json=bad), 400, "400")
    assert list(webex.webhooks.values()) == [hook]
    # The old secret no longer verifies; the new one does.
    note = (
        b'{"resource":"messages","event":"created","data":{"id":"Y2lzY29zcGFyazovL3VzL01FU1NBR0UvOQ","personId":"p"}}'
    )
    async with httpx.AsyncClient() as http:
        for secret, status in ((SECRET, 401), ("rotated-secret", 200)):
            signed = hmac.new(secret.encode(), note, hashlib.sha1).hexdigest()
            response = await http.post(hook.target_url, content=note, headers={"X-Spark-Signature": signed})
            assert response.status_code == status
    data(await api(root, "DELETE", "/webex/bot"))
    assert webex.webhooks == {}
    error(await api(root, "GET", "/webex/bot"), 404, "404")
    error(await api(root, "DELETE", "/webex/bot"), 404, "404")
    error(await api(None, "GET", "/webex/bot"), 401, "401")


async def test_a_send_the_pipeline_refuses_is_shown_in_the_space(world: World) -> None:
    webex, bot = world.webex, world.bot
    await world.send_sms(HANDSET, MAPPED, "STOP")  # the handset opts out of the mapped number
    room = world.space(HANDSET)
    assert world.texts(room)[-1] == "STOP"
    await webex.user_posts("jane@acme.com", room.id, "one more thing", mention=bot)
    await drain(world.app)
    [outbound] = await world.records(direction="OUTBOUND")
    assert (outbound["channelStatus"], outbound["channelErrorCode"]) == ("failed", "21610")
    assert "Not sent to +15550000009" in str(world.texts(room)[-1])
    async with world.app.state.session_factory() as session:
        sent = (await session.execute(select(func.count()).where(Message.created_via == "webex"))).scalar_one()
    assert sent == 0


async def test_messages_arriving_together_post_in_order_into_one_space(world: World) -> None:
    settings = world.app.state.settings
    async with world.app.state.session_factory() as session, session.begin():
        for index in range(4):
            inbound = InboundMessage("smsc", f"burst-{index}", HANDSET, MAPPED, f"part {index}")
            assert await receive(session, inbound, settings=settings) is not None
    # Eight jobs at once: the four posts run side by side and must still keep their order.
    await _drain_concurrently(world.app, 8)
    room = world.space(HANDSET)
    assert world.texts(room)[1:] == ["part 0", "part 1", "part 2", "part 3"]
    assert [r["channelStatus"] for r in await world.records(direction="INBOUND")] == ["delivered"] * 4


async def test_a_mapping_on_a_sub_accounts_number_answers_from_that_number(
    world: World, make_account: MakeAccount, own_number: OwnNumber
) -> None:
    webex, bot = world.webex, world.bot
    child = await make_account(world.root)
    await own_number(child, CHILDS)
    data(
        await world.api(
            world.root,
            "POST",
            f"/webex/webexteams/mappings/{world.mapping['enterpriseSid']}",
            json={"webexAddress": "kim@acme.com", "externalAddress": CHILDS},
        )
    )
    await world.send_sms(HANDSET, CHILDS, "hello kim")
    room = world.space(HANDSET)
    await webex.user_posts("kim@acme.com", room.id, "hi!", mention=bot)
    await drain(world.app)
    [outbound] = await world.records(direction="OUTBOUND")
    assert (outbound["from"], outbound["channelStatus"], outbound["channelErrorCode"]) == (
        CHILDS[1:],
        "delivered",
        None,
    )
    async with world.app.state.session_factory() as session:
        [sms] = (await session.execute(select(Message).where(Message.created_via == "webex"))).scalars()
    assert (sms.account_sid, sms.from_address) == (child.sid, CHILDS)  # sent (and billed) as the number's owner


async def test_the_bots_own_posts_are_dropped_at_the_webhook(world: World) -> None:
    webex, bot = world.webex, world.bot
    await world.send_sms(HANDSET, MAPPED, "hi")
    await webex.settle()
    room = world.space(HANDSET)
    own = [m.id for m in webex.messages_in(room.id) if m.person_id == bot.id]
    assert len(own) == 2  # the intro and the relayed SMS
    # Webex told the bot about both (as it does), and both were accepted with 200 …
    notified = [d for d in webex.deliveries if any(i.encode() in d.body for i in own)]
    assert len(notified) == 2 and all(d.status == 200 for d in notified)
    # … but dropped before anything was stored or queued: no receipt, no relay job.
    async with world.app.state.session_factory() as session:
        receipts = list((await session.execute(select(ChatReceipt.chat_message_id))).scalars())
        relays = (await session.execute(select(func.count()).where(Job.kind == "webex.relay"))).scalar_one()
    assert receipts == [] and relays == 0
    await webex.user_posts("jane@acme.com", room.id, "thanks", mention=bot)
    async with world.app.state.session_factory() as session:
        receipts = list((await session.execute(select(ChatReceipt.chat_message_id))).scalars())
        relays = (await session.execute(select(func.count()).where(Job.kind == "webex.relay"))).scalar_one()
    assert (receipts, relays) == ([webex.messages_in(room.id)[-1].id], 1)  # a user's message is taken


async def test_a_long_retry_after_reschedules_the_post_for_when_webex_allows(world: World) -> None:
    webex, app = world.webex, world.app
    async with app.state.session_factory() as session, session.begin():
        inbound = InboundMessage("smsc", "slow-1", HANDSET, MAPPED, "are you there?")
        assert await receive(session, inbound, settings=app.state.settings) is not None
    webex.throttle(times=1, retry_after=30)
    worker = Worker(app.state.settings, app.state.session_factory)
    asked_at = datetime.now(UTC)
    await worker.run_pending()
    async with app.state.session_factory() as session:
        [job] = (await session.execute(select(Job).where(Job.kind == "webex.post"))).scalars()
    assert job.status == "pending" and job.attempts == 1
    assert 25 <= (job.run_at - asked_at).total_seconds() <= 35  # Webex's Retry-After, not our backoff
    assert webex.rooms_titled(HANDSET) == []
    assert [r["channelStatus"] for r in await world.records(direction="INBOUND")] == ["queued"]
    async with app.state.session_factory() as session, session.begin():  # … 30 seconds later
        await session.execute(update(Job).where(Job.id == job.id).values(run_at=datetime.now(UTC)))
    await drain(app)
    assert world.texts(world.space(HANDSET))[-1] == "are you there?"
    assert [r["channelStatus"] for r in await world.records(direction="INBOUND")] == ["delivered"]


async def test_webex_down_for_good_marks_the_inbound_record_failed(world: World) -> None:
    webex, app = world.webex, world.app
    async with app.state.session_factory() as session, session.begin():
        inbound = InboundMessage("smsc", "down-1", HANDSET, MAPPED, "anyone?")
        assert await receive(session, inbound, settings=app.state.settings) is not None
        await session.execute(update(Job).where(Job.kind == "webex.post").values(max_attempts=2))
    webex.fail(times=2, status=503)
    await drain(app)
    [record] = await world.records(direction="INBOUND")
    assert (record["channelStatus"], record["channelErrorCode"]) == ("failed", "503")
    assert "503" in record["channelErrorMessage"]


async def test_one_to_one_without_a_mapping_explains_and_sends_nothing(world: World) -> None:
    webex, bot = world.webex, world.bot
    stranger = webex.person("max@acme.com")
    direct = webex.direct_room(bot, stranger)
    await webex.user_posts("max@acme.com", direct.id, "+15551234567 hello")
    await drain(world.app)
    assert "no phone number mapped" in str(world.texts(direct)[-1])
    assert await world.records() == []
    assert webex.rooms_titled("+15551234567") == []
