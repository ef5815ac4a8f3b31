"""Pure pieces of the bridge: the 1:1 command, the mention, the webhook signature."""

from __future__ import annotations

import pytest

from message_exchange.config import Settings
from message_exchange.webex.bridge import signature
from message_exchange.webex.models import Bot
from message_exchange.webex.relay import split_number, strip_mention


@pytest.mark.parametrize(
    "text,expected",
    [
        ("+15551234567 hello", ("+15551234567", "hello")),
        ("  +1 (555) 123-4567   see you at 5 ", ("+15551234567", "see you at 5")),
        ("+15551234567 10 apples", ("+15551234567", "10 apples")),
        ("15551234567 hi", ("+15551234567", "hi")),
        ("+447911123456\nline two", ("+447911123456", "line two")),
        ("+15551234567", ("+15551234567", "")),
        ("hello +15551234567", None),
        ("+1555 hi", None),
        ("", None),
    ],
)
def test_split_number(text: str, expected: tuple[str, str] | None) -> None:
    assert split_number(text) == expected


def test_strip_mention() -> None:
    bot = Bot(display_name="SMS Bot")
    assert strip_mention("SMS Bot see you", bot) == "see you"
    assert strip_mention("sms bot, see you", bot) == "see you"
    assert strip_mention("SMS see you", bot) == "see you"  # a mention shortened to the first name
    assert strip_mention("see you", bot) == "see you"
    assert strip_mention("see you at 5, SMS Bot", bot) == "see you at 5"
    assert strip_mention("ask the SMS Bot team", bot) == "ask the SMS Bot team"


def test_signature_is_hex_hmac_sha1_of_the_raw_body() -> None:
    # HMAC-SHA1("key", "The quick brown fox jumps over the lazy dog"), the RFC 2104 example vector.
    assert (
        signature("key", b"The quick brown fox jumps over the lazy dog") == "de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9"
    )


def test_the_webex_api_is_webexapis_com_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MX_WEBEX_API_BASE_URL", raising=False)
    assert Settings().webex_api_base_url == "https://webexapis.com/v1/"
    monkeypatch.setenv("MX_WEBEX_API_BASE_URL", "http://127.0.0.1:9/v1/")
    assert Settings().webex_api_base_url == "http://127.0.0.1:9/v1/"
