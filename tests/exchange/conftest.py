from __future__ import annotations

from tests.webex.conftest import api  # noqa: F401  (the Webex API drives mappings here)
