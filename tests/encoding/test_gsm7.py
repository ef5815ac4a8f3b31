"""GSM 03.38 alphabet and 7-bit packing, against the reference tables."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from message_exchange.encoding import (
    EncodingError,
    decode_gsm7,
    encode_gsm7,
    gsm7_septets,
    is_gsm7,
    pack_septets,
    udh_fill_bits,
    unpack_septets,
)
from tests.encoding import reference_gsm0338 as ref
from tests.encoding.strategies import PROPERTY, gsm_text, message_text

septet_bytes = st.binary(max_size=200).map(lambda data: bytes(octet & 0x7F for octet in data))
fill_bits = st.integers(min_value=0, max_value=6)


def test_reference_tables_are_well_formed() -> None:
    assert len(ref.DEFAULT_ALPHABET) == 128
    basic = [cp for cp in ref.DEFAULT_ALPHABET if cp is not None]
    assert len(basic) == len(set(basic)) == 127 and ref.DEFAULT_ALPHABET[0x1B] is None
    assert not set(basic) & set(ref.EXTENSION.values())


def test_every_code_of_the_default_alphabet_maps_as_the_table_says() -> None:
    for septet, cp in enumerate(ref.DEFAULT_ALPHABET):
        if cp is None:
            continue
        assert encode_gsm7(chr(cp)) == bytes([septet]), hex(septet)
        assert decode_gsm7(bytes([septet])) == chr(cp), hex(septet)


def test_every_extension_character_is_escape_plus_its_code() -> None:
    for code, cp in ref.EXTENSION.items():
        assert encode_gsm7(chr(cp)) == bytes([0x1B, code])
        assert decode_gsm7(bytes([0x1B, code])) == chr(cp)
        assert gsm7_septets(chr(cp)) == 2


def test_is_gsm7_agrees_with_the_table_for_every_bmp_character() -> None:
    wrong = [hex(cp) for cp in range(0x10000) if is_gsm7(chr(cp)) != ref.is_gsm7(chr(cp))]
    assert wrong == []


@pytest.mark.parametrize("char", ["ç", "\t", "\x1b", "`", "😀", "\u00a0", "Ж", "\x00"])
def test_characters_outside_the_alphabet_are_refused(char: str) -> None:
    assert not is_gsm7(f"abc{char}")
    with pytest.raises(EncodingError):
        encode_gsm7(f"abc{char}")
    with pytest.raises(EncodingError):
        gsm7_septets(char)


def test_at_sign_is_octet_zero() -> None:
    # SMPP peers that treat short_message as a C string would cut the body here.
    assert encode_gsm7("a@b") == b"a\x00b"


@PROPERTY
@given(gsm_text)
def test_encode_matches_reference_and_round_trips(text: str) -> None:
    encoded = encode_gsm7(text)
    assert encoded == ref.encode(text)
    assert gsm7_septets(text) == len(encoded) == ref.units(text, "GSM-7")
    assert decode_gsm7(encoded) == text


@PROPERTY
@given(message_text)
def test_is_gsm7_matches_reference(text: str) -> None:
    assert is_gsm7(text) == ref.is_gsm7(text)


@PROPERTY
@given(st.binary(max_size=300))
def test_lenient_decode_of_any_octets_matches_reference(data: bytes) -> None:
    assert decode_gsm7(data, errors="replace") == ref.decode(data)


def test_escape_rules_of_23038() -> None:
    assert decode_gsm7(b"\x1b\x41") == "A"  # undefined extension code: the base character
    assert decode_gsm7(b"a\x1b\x1bb") == "a b"  # reserved 1B 1B: a space
    with pytest.raises(EncodingError):
        decode_gsm7(b"abc\x1b")  # an escape pair cut in half
    assert decode_gsm7(b"abc\x1b", errors="replace") == "abc\ufffd"
    with pytest.raises(EncodingError):
        decode_gsm7(b"a\x80")
    assert decode_gsm7(b"a\x80", errors="replace") == "a\ufffd"


def test_known_packing_vectors() -> None:
    assert pack_septets(encode_gsm7("hellohello")).hex() == "e8329bfd4697d9ec37"
    assert pack_septets(b"") == b""
    # After a 6-octet UDH one fill bit aligns the first septet: "A" (0x41) shifted left by one.
    assert udh_fill_bits(6) == 1
    assert udh_fill_bits(7) == 0
    assert pack_septets(b"A", fill_bits=1) == bytes([0x82])


@PROPERTY
@given(septet_bytes, fill_bits)
def test_pack_matches_reference_and_unpacks_with_a_count(septets: bytes, fill: int) -> None:
    packed = pack_septets(septets, fill_bits=fill)
    assert packed == ref.pack(septets, fill)
    assert len(packed) == math.ceil((fill + 7 * len(septets)) / 8)
    assert unpack_septets(packed, len(septets), fill_bits=fill) == septets
    assert ref.unpack(packed, len(septets), fill) == septets


@PROPERTY
@given(
    st.one_of(septet_bytes, gsm_text.map(encode_gsm7), st.integers(0, 40).map(lambda n: b"a" * n + b"\r")), fill_bits
)
def test_cr_padding_round_trips_without_a_count(septets: bytes, fill: int) -> None:
    packed = pack_septets(septets, fill_bits=fill, pad_cr=True)
    unpacked = unpack_septets(packed, fill_bits=fill)
    ends_on_octet_boundary = (fill + 7 * len(septets)) % 8 == 0
    if septets.endswith(b"\r") and ends_on_octet_boundary:
        assert unpacked == septets + b"\r"  # the spec's doubled CR: displayed the same
    else:
        assert unpacked == septets


@pytest.mark.parametrize("length", [7, 15, 23, 8, 16, 1, 0])
def test_seven_spare_bits_read_as_at_sign_unless_cr_padded(length: int) -> None:
    septets = b"b" * length
    plain = unpack_septets(pack_septets(septets))
    if length % 8 == 7:
        assert plain == septets + b"\x00"  # the ambiguity 23.038 §6.1.2.3.1 describes
    else:
        assert plain == septets
    assert unpack_septets(pack_septets(septets, pad_cr=True)) == septets


def test_unpack_refuses_more_septets_than_the_octets_hold() -> None:
    with pytest.raises(EncodingError):
        unpack_septets(b"\x00" * 7, 9)
    with pytest.raises(EncodingError):
        pack_septets(b"\x80")
    with pytest.raises(ValueError, match="fill_bits"):
        pack_septets(b"a", fill_bits=7)
