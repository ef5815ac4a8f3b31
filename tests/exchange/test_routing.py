"""The exchange's hook in the inbound router: mapped numbers go to the chat channel, others to their SmsUrl."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from message_exchange.config import Settings
from message_exchange.exchange.models import ExchangeMessage
from message_exchange.inbound.service import InboundMessage, receive
from tests.conftest import TEST_SECRET_KEY
from tests.fakes.callback_sink import CallbackSink
from tests.support.accounts import Creds, OwnNumber
from tests.support.pipeline import drain, pipeline_settings
from tests.webex.conftest import Api, data


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return pipeline_settings(database_url, tmp_path, TEST_SECRET_KEY)


async def _receive(app: FastAPI, to: str, carrier_id: str, body: str = "hello") -> bool:
    async with app.state.session_factory() as session, session.begin():
        stored = await receive(
            session, InboundMessage("smsc", carrier_id, "+13216540987", to, body), settings=app.state.settings
        )
        return stored is not None


async def test_only_mapped_numbers_are_taken_from_their_sms_url(
    app: FastAPI, api: Api, root: Creds, own_number: OwnNumber, sink: CallbackSink
) -> None:
    await own_number(root, "+15557770001", sms_url=sink.url("/mapped"))
    await own_number(root, "+15557770002", sms_url=sink.url("/plain"))
    enterprise = data(await api(root, "POST", "/webex/enterprise", json={"name": "E"}))
    mapping = data(
        await api(
            root,
            "POST",
            f"/webex/webexteams/mappings/{enterprise['sid']}",
            json={"webexAddress": "jane@acme.com", "externalAddress": "+15557770001"},
        )
    )
    assert await _receive(app, "+15557770001", "c-1")
    assert await _receive(app, "+15557770002", "c-2")
    assert not await _receive(app, "+15557770001", "c-1")  # a duplicate: dropped before the exchange sees it
    await drain(app)
    await sink.wait_for(1, path="/plain")
    assert sink.requests_to("/mapped") == []
    async with app.state.session_factory() as session:
        records = list((await session.execute(select(ExchangeMessage))).scalars())
    assert [(r.direction, r.from_address, r.to_address) for r in records] == [
        ("INBOUND", "+13216540987", "jane@acme.com")
    ]
    # Once the mapping is deleted the number is back to its own SmsUrl.
    data(await api(root, "DELETE", f"/webex/webexteams/mappings/{mapping['sid']}"))
    assert await _receive(app, "+15557770001", "c-3")
    await drain(app)
    await sink.wait_for(1, path="/mapped")
