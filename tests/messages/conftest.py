from __future__ import annotations

from pathlib import Path

import pytest

from message_exchange.config import Settings
from tests.conftest import TEST_SECRET_KEY
from tests.support.accounts import Creds, OwnNumber
from tests.support.pipeline import pipeline_settings


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return pipeline_settings(database_url, tmp_path, TEST_SECRET_KEY)


ROOT_NUMBERS = ("+19876543210", "+15550000001", "+15550000002")


@pytest.fixture
async def root_numbers(root: Creds, own_number: OwnNumber) -> tuple[str, ...]:
    """The numbers the messages tests send from, owned by ``root``."""
    await own_number(root, *ROOT_NUMBERS)
    return ROOT_NUMBERS
