"""The fake Webex API, for every test that talks to Webex (a plugin of tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fakes.webex import FakeWebex


@pytest.fixture
async def webex() -> AsyncIterator[FakeWebex]:
    async with FakeWebex() as fake:
        yield fake
