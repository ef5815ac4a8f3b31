"""Pure logic: expiry formats, notification codes, the fast E.164 check agreeing with the full parse."""

from __future__ import annotations

from datetime import UTC, datetime

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from message_exchange.connect import codes
from message_exchange.connect.request import parse_expiry
from message_exchange.connect.service import template_parameters
from message_exchange.messages.addresses import _possible_by_country_code


@pytest.mark.parametrize(
    "text",
    [
        "2015-04-12T13:00:19.456Z",
        "2015-04-12T18:30:19.456+5:30",
        "2015-04-12T18:30:19.456+05:30",
        "2015-04-12T18:30:19.456+0530",
    ],
)
def test_expiry_forms(text: str) -> None:
    assert parse_expiry(text) == datetime(2015, 4, 12, 13, 0, 19, 456000, tzinfo=UTC)


@pytest.mark.parametrize("text", ["tomorrow", "0001-01-01T00:00:00+01:00", "2015-13-01T00:00:00Z"])
def test_bad_expiry(text: str) -> None:
    with pytest.raises(codes.ConnectError) as caught:
        parse_expiry(text)
    assert caught.value.code == "7004" and caught.value.status_code == 200


@pytest.mark.parametrize(
    "status,error,expected",
    [
        ("sending", None, None),
        ("sent", None, ("7501", "Submitted")),
        ("delivered", None, ("7500", "Delivered")),
        ("undelivered", 30003, ("7207", "Undelivered")),
        ("failed", 21211, ("7102", "Failed")),
        ("failed", 30036, ("7208", "Undelivered")),
        ("failed", 7701, ("7701", "Failed")),
        ("failed", 7702, ("7702", "Failed")),
        ("failed", 12345, ("7202", "Failed")),
    ],
)
def test_notice_codes(status: str, error: int | None, expected: tuple[str, str] | None) -> None:
    notice = codes.notice_for(status, error)
    assert (None if notice is None else (notice.code, notice.delivery_status)) == expected


def test_template_parameters() -> None:
    assert template_parameters("{{a}} {{ b }} {{a}} {{link_5}}") == ["a", "b"]


@given(st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True))
def test_fast_e164_never_accepts_what_the_full_parse_refuses(number: str) -> None:
    if _possible_by_country_code(number):
        assert phonenumbers.is_possible_number(phonenumbers.parse(number, None)), number
