"""``channels.sms.type`` and ``extras.dlt_templateid`` become the message's submission options.

What reaches an SMSC is tested in tests/carriers/smpp/test_submit_options.py; here: what is
stored at acceptance (``messages.options``, ``num_segments``), and what is refused.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from message_exchange.carriers.base import SubmitOptions
from message_exchange.messages.models import Message
from tests.connect.conftest import SENDER, Counts, Send, sms_body
from tests.support.accounts import Creds


async def _messages(app: FastAPI) -> list[Message]:
    async with app.state.session_factory() as session:
        return list((await session.execute(select(Message).order_by(Message.to_address))).scalars())


def _typed(sms_type: Any, *msisdns: str, **sms: Any) -> dict[str, Any]:
    body = sms_body(*(msisdns or ("+14155550100",)))
    body["channels"]["sms"].update({"type": sms_type, **sms})
    if "body" in sms:
        body["channels"]["sms"].pop("text")
    return body


@pytest.mark.parametrize(
    "sms_type,sms,options",
    [
        ("1", {}, None),
        (None, {}, None),
        ("2", {}, {"flash": True}),
        (2, {}, {"flash": True}),
        ("3", {"body": "0a0B0c"}, {"binary": True}),
        ("4", {}, {"encoding": "ucs2"}),
        ("1", {"extras": {"dlt_templateid": "1107158158796985790"}}, {"dlt_template_id": "1107158158796985790"}),
        ("2", {"extras": {"dlt_templateid": 1107}}, {"flash": True, "dlt_template_id": "1107"}),
        ("1", {"extras": {"dlt_templateid": "", "other": "x"}}, None),
    ],
)
async def test_each_type_stores_its_options_on_every_message(
    send: Send, app: FastAPI, sms_type: Any, sms: dict[str, Any], options: dict[str, Any] | None
) -> None:
    answer = await send(_typed(sms_type, "+14155550100", "+14155550101", **sms))
    assert [entry["code"] for entry in answer["response"]] == ["1001", "1001"]
    messages = await _messages(app)
    assert [m.options for m in messages] == [options, options]
    assert SubmitOptions.from_stored(messages[0].options).to_stored() == options


@pytest.mark.parametrize(
    "octets,segments",
    [(1, 1), (140, 1), (141, 2), (268, 2), (269, 3), (1120, 9)],
)
async def test_binary_segments_count_octets(send: Send, app: FastAPI, octets: int, segments: int) -> None:
    assert (await send(_typed("3", body="ab" * octets)))["response"][0]["code"] == "1001"
    [message] = await _messages(app)
    assert message.num_segments == segments and message.body == "AB" * octets


async def test_unicode_segments_count_ucs2_units(send: Send, app: FastAPI) -> None:
    await send(_typed("4", text="a" * 71))  # GSM-7 would fit one part; UCS-2 takes two
    [message] = await _messages(app)
    assert message.num_segments == 2 and message.options == {"encoding": "ucs2"}


@pytest.mark.parametrize(
    "sms,code,fragment",
    [
        ({"body": "0a0b0"}, "7004", "body must be hexadecimal"),  # odd length
        ({"body": "0x0a"}, "7004", "body must be hexadecimal"),
        ({"body": "0a 0b"}, "7004", "body must be hexadecimal"),
        ({"body": "zz"}, "7004", "body must be hexadecimal"),
        ({"body": "ab" * 1121}, "7004", "body takes at most 2240 characters"),
        ({"body": ""}, "7003", "'body' missing"),
        ({"body": "0a", "extras": {"dlt_templateid": ["x"]}}, "7004", "extras.dlt_templateid must be a string"),
        ({"body": "0a", "extras": {"dlt_templateid": "1" * 65}}, "7004", "extras.dlt_templateid takes at most"),
    ],
)
async def test_a_bad_binary_request_stores_nothing(
    send: Send, counts: Counts, sms: dict[str, Any], code: str, fragment: str
) -> None:
    answer = await send(_typed("3", "+14155550100", "+14155550101", **sms))
    assert answer["response"]["code"] == code and fragment in answer["response"]["description"], answer
    assert (await counts()) == {"messages": 0}


async def test_other_send_paths_leave_options_empty(
    client: httpx.AsyncClient, app: FastAPI, service: Any, send: Send
) -> None:
    """A message of the Restcomm API has no options (NULL), beside a typed Messaging API one."""
    root: Creds = service.account
    response = await client.post(
        f"/restcomm/2012-04-24/Accounts/{root.sid}/SMS/Messages.json",
        data={"From": SENDER, "To": "+14155550199", "Body": "hello"},
        auth=root.auth,
    )
    assert response.status_code in (200, 201), response.text
    await send(_typed("2", "+14155550100"))
    messages = await _messages(app)
    assert [(m.to_address, m.options) for m in messages] == [("+14155550100", {"flash": True}), ("+14155550199", None)]
