from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from message_exchange.config import Settings
from message_exchange.inbound.service import InboundMessage, receive
from message_exchange.messages.models import Message
from tests.conftest import TEST_SECRET_KEY
from tests.support.pipeline import pipeline_settings

HELP_TEXT = "Acme alerts: reply STOP to opt out, call +15550001111 for help."


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return pipeline_settings(database_url, tmp_path, TEST_SECRET_KEY, help_reply=HELP_TEXT)


Deliver = Callable[[InboundMessage], Awaitable[str | None]]


@pytest.fixture
def deliver(app: FastAPI) -> Deliver:
    """Hand an inbound message to the router as a carrier connector does; its sid or None."""

    async def run(inbound: InboundMessage) -> str | None:
        async with app.state.session_factory() as session, session.begin():
            message = await receive(session, inbound, settings=app.state.settings)
            return message.sid if message is not None else None

    return run


Messages = Callable[..., Awaitable[list[Message]]]


@pytest.fixture
def stored(app: FastAPI) -> Messages:
    """Stored messages, oldest first, optionally of one direction."""

    async def run(direction: str | None = None) -> list[Message]:
        async with app.state.session_factory() as session:
            query = select(Message).order_by(Message.date_created)
            if direction is not None:
                query = query.where(Message.direction == direction)
            return list((await session.execute(query)).scalars())

    return run
