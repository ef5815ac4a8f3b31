"""The RCML reply parser (pure)."""

from __future__ import annotations

import pytest

from message_exchange.inbound.optout import Keyword, keyword_of
from message_exchange.inbound.rcml import RcmlError, ReplyVerb, parse_reply


def test_twilio_message_with_body_and_media() -> None:
    verbs = parse_reply(
        '<?xml version="1.0" encoding="UTF-8"?><Response>'
        '<Message to="+15551112222" action="https://example.com/s" method="GET">'
        "<Body>Hi there</Body><Media>https://example.com/a.png</Media></Message>"
        "</Response>"
    )
    assert verbs == [
        ReplyVerb(
            "Message", "Hi there", ("https://example.com/a.png",), "+15551112222", None, "https://example.com/s", "GET"
        )
    ]


def test_restcomm_sms_and_several_verbs() -> None:
    verbs = parse_reply(
        '<Response><Sms to="+15551112222" from="+15553334444" action="https://e.com/cb">one</Sms>'
        "<Message>two</Message></Response>"
    )
    assert [(v.verb, v.body, v.to, v.from_, v.action) for v in verbs] == [
        ("Sms", "one", "+15551112222", "+15553334444", "https://e.com/cb"),
        ("Message", "two", None, None, None),
    ]


def test_an_empty_response_sends_nothing() -> None:
    assert parse_reply("<Response/>") == []


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "OK",
        "<Response><Message>unclosed</Response>",
        "<Reply><Message>x</Message></Reply>",
        "<Response><Dial>+15551112222</Dial></Response>",
        '<!DOCTYPE r [<!ENTITY a "aaaa">]><Response><Message>&a;</Message></Response>',
        '<?xml version="1.0"?><!DOCTYPE Response SYSTEM "file:///etc/passwd"><Response/>',
        "<Response><Message>" + "x" * 70_000 + "</Message></Response>",
    ],
)
def test_what_is_not_executed(text: str) -> None:
    with pytest.raises(RcmlError):
        parse_reply(text)


@pytest.mark.parametrize(
    "body,keyword",
    [
        ("STOP", Keyword.STOP),
        (" stop\n", Keyword.STOP),
        ("StopAll", Keyword.STOP),
        ("unsubscribe", Keyword.STOP),
        ("Cancel", Keyword.STOP),
        ("end", Keyword.STOP),
        ("QUIT", Keyword.STOP),
        ("start", Keyword.START),
        ("Yes", Keyword.START),
        ("UNSTOP", Keyword.START),
        ("help", Keyword.HELP),
        ("INFO", Keyword.HELP),
        ("stop it", None),
        ("STOP.", None),
        ("hello", None),
        ("", None),
    ],
)
def test_keywords_are_single_words(body: str, keyword: Keyword | None) -> None:
    assert keyword_of(body) is keyword
