from __future__ import annotations

from pathlib import Path

import pytest

from message_exchange.config import Settings
from tests.conftest import TEST_SECRET_KEY
from tests.support.pipeline import pipeline_settings


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return pipeline_settings(database_url, tmp_path, TEST_SECRET_KEY)
