"""Pure pieces of the Teams exchange: HTML to text, allowed service hosts, the reply card, 451 wording."""

from __future__ import annotations

import pytest

from message_exchange.config import Settings
from message_exchange.msteams.auth import service_host_allowed
from message_exchange.msteams.bridge import REPLY_KEY, REPLY_TEXT, reply_card
from message_exchange.msteams.errors import MissingParameters, require
from message_exchange.msteams.relay import plain_text


def test_plain_text_strips_teams_html() -> None:
    assert plain_text("hello") == "hello"
    assert plain_text("<p>see <b>you</b> at 5 &amp; bring &lt;it&gt;</p>") == "see you at 5 & bring <it>"
    assert plain_text("<div>one<br/>two</div>") == "one\ntwo"


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://smba.trafficmanager.net/amer/", True),
        ("https://smba.trafficmanager.net/teams/", True),
        ("https://emea.ng.msg.teams.microsoft.com/", True),
        ("https://evil.example.com/", False),
        ("https://smba.trafficmanager.net.evil.example.com/", False),
        ("ftp://smba.trafficmanager.net/", False),
        ("not a url", False),
    ],
)
def test_service_hosts_allowed_by_default(url: str, allowed: bool) -> None:
    assert service_host_allowed(url, Settings()) is allowed


def test_reply_card_carries_the_conversation_and_a_reply_box() -> None:
    card = reply_card(
        "+15550000009",
        "hi",
        [{"url": "https://cdn.example.com/a.jpg", "content_type": "image/jpeg"}, {"url": "https://x/y.pdf"}],
        "CV123",
    )
    kinds = [element["type"] for element in card["body"]]
    assert kinds == ["TextBlock", "TextBlock", "Image", "TextBlock", "Input.Text"]
    assert card["body"][-1]["id"] == REPLY_TEXT
    assert card["actions"] == [{"type": "Action.Submit", "title": "Reply", "data": {REPLY_KEY: "CV123"}}]


def test_451_names_every_missing_parameter_in_order() -> None:
    with pytest.raises(MissingParameters) as caught:
        require({"a": None, "b": "x", "c": "  ", "d": ""})
    assert caught.value.message == "Mandatory parameter a, c, d is missing."
    assert (caught.value.code, caught.value.status_code) == ("451", 400)
    require({"a": "1"})


def test_every_microsoft_address_defaults_to_the_real_one() -> None:
    settings = Settings()
    assert settings.msteams_openid_metadata_url == "https://login.botframework.com/v1/.well-known/openidconfiguration"
    assert settings.msteams_token_issuer == "https://api.botframework.com"
    assert settings.msteams_login_authority == "https://login.microsoftonline.com"
    assert settings.msteams_bot_token_tenant == "botframework.com"
    assert settings.msteams_graph_base_url == "https://graph.microsoft.com"
    assert settings.msteams_default_service_url == "https://smba.trafficmanager.net/teams/"
    assert 0 < settings.msteams_jwt_leeway_seconds <= 300  # Microsoft allows five minutes of clock skew
