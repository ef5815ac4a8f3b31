"""UCS-2 (UTF-16-BE with surrogate pairs) and Latin-1."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from message_exchange.encoding import (
    EncodingError,
    decode_latin1,
    decode_ucs2,
    encode_latin1,
    encode_ucs2,
    is_latin1,
    ucs2_units,
)
from tests.encoding import reference_gsm0338 as ref
from tests.encoding.strategies import PROPERTY, message_text, ucs2_text


@PROPERTY
@given(message_text | ucs2_text)
def test_encode_matches_rfc2781_and_round_trips(text: str) -> None:
    encoded = encode_ucs2(text)
    assert encoded == ref.encode_utf16be(text)
    assert ucs2_units(text) == len(encoded) // 2 == ref.units(text, "UCS-2")
    assert decode_ucs2(encoded) == text


def test_emoji_is_a_surrogate_pair() -> None:
    assert encode_ucs2("😀") == bytes.fromhex("d83dde00")
    assert ucs2_units("a😀b") == 4
    assert ucs2_units("") == 0


@pytest.mark.parametrize("text", ["\ud83d", "a\ude00", "\ude00\ud83d"])
def test_unpaired_surrogates_cannot_be_encoded(text: str) -> None:
    with pytest.raises(EncodingError):
        encode_ucs2(text)


def test_broken_ucs2_raises_or_is_replaced() -> None:
    with pytest.raises(EncodingError):
        decode_ucs2(b"\x00a\x00")  # odd octet
    with pytest.raises(EncodingError):
        decode_ucs2(bytes.fromhex("d83d0041"))  # high surrogate without its low half
    assert decode_ucs2(bytes.fromhex("d83d0041"), errors="replace") == "\ufffdA"


@PROPERTY
@given(st.text(st.characters(max_codepoint=0xFF)))
def test_latin1_round_trips(text: str) -> None:
    assert is_latin1(text)
    assert decode_latin1(encode_latin1(text)) == text
    assert len(encode_latin1(text)) == len(text)


def test_latin1_refuses_what_it_cannot_hold() -> None:
    assert not is_latin1("price €5")
    with pytest.raises(EncodingError, match="U\\+20AC"):
        encode_latin1("price €5")
