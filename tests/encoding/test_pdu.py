"""SMPP parts: UDH / SAR / message_payload splitting, the 140-octet air limit, UDH parsing, MO reassembly."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from message_exchange.encoding import (
    ConcatInfo,
    ConcatMethod,
    DataCoding,
    EncodingError,
    PduPart,
    UdhError,
    concat_udh,
    decode_gsm7,
    decode_short_message,
    decode_ucs2,
    encode_gsm7,
    encode_ucs2,
    parse_udh,
    reassemble,
    split_for_smpp,
    split_udh,
    udh_fill_bits,
    unpack_septets,
)
from tests.encoding import reference_gsm0338 as ref
from tests.encoding.strategies import PROPERTY, gsm_char, message_text

CONCAT_METHODS = [ConcatMethod.UDH, ConcatMethod.UDH16, ConcatMethod.SAR]
latin1_text = st.integers(0, 420).flatmap(lambda n: st.text(st.characters(max_codepoint=0xFF), min_size=n, max_size=n))


def _air_octets(part: PduPart) -> int:
    """Octets of TP-User-Data the part takes on the air (the SMSC packs unpacked GSM-7)."""
    udh = len(part.udh) if part.udh is not None else 0
    if part.data_coding is DataCoding.SMSC_DEFAULT:
        fill = udh_fill_bits(udh) if udh else 0
        return udh + math.ceil((fill + 7 * len(part.data)) / 8)
    return udh + len(part.data)


def _decode_alone(part: PduPart) -> str:
    """Strict decoding of one part by itself: fails if an escape or surrogate pair was cut."""
    if part.data_coding is DataCoding.SMSC_DEFAULT:
        return decode_gsm7(part.data)
    if part.data_coding is DataCoding.UCS2:
        return decode_ucs2(part.data)
    return part.data.decode("latin-1")


def _received(part: PduPart) -> ConcatInfo:
    """What the receiving side gets: a UDH to parse, or SAR TLVs."""
    if part.sar is not None:
        return ConcatInfo(part.sar.msg_ref_num, part.sar.total_segments, part.sar.segment_seqnum, part.short_message)
    info = parse_udh(part.short_message)
    assert info is not None
    return info


def _check_parts(text: str, parts: tuple[PduPart, ...], method: ConcatMethod, ref_number: int, shuffle: int) -> None:
    coding = parts[0].data_coding
    assert [part.index for part in parts] == list(range(1, len(parts) + 1))
    assert all(part.total == len(parts) and part.data_coding is coding for part in parts)
    assert "".join(part.text for part in parts) == text
    for part in parts:
        assert _air_octets(part) <= ref.USER_DATA_OCTETS
        assert _decode_alone(part) == part.text
    if len(parts) == 1:
        (only,) = parts
        assert only.udh is None and only.sar is None and only.ref is None and not only.udhi
        assert decode_short_message(only.short_message, coding) == text
        return
    for part in parts:
        assert part.ref == ref_number
        if method is ConcatMethod.SAR:
            assert part.udh is None and part.sar is not None and not part.udhi
        else:
            assert part.udh is not None and part.udhi and part.sar is None
            assert ref.concat_ie(part.udh) == (ref_number, part.total, part.index)
            assert len(part.udh) == (6 if method is ConcatMethod.UDH else 7)
    received = [_received(part) for part in parts]
    random.Random(shuffle).shuffle(received)
    assert decode_short_message(reassemble(received), coding, errors="strict") == text


@PROPERTY
@given(message_text, st.sampled_from(CONCAT_METHODS), st.integers(0, 255), st.integers())
def test_parts_fit_140_octets_and_reassemble_in_any_order(
    text: str, method: ConcatMethod, ref_number: int, shuffle: int
) -> None:
    parts = split_for_smpp(text, ref=ref_number, method=method)
    _check_parts(text, parts, method, ref_number, shuffle)
    expected = DataCoding.SMSC_DEFAULT if ref.is_gsm7(text) else DataCoding.UCS2
    assert parts[0].data_coding is expected


@PROPERTY
@given(latin1_text, st.sampled_from(CONCAT_METHODS), st.integers(0, 255), st.integers())
def test_latin1_parts(text: str, method: ConcatMethod, ref_number: int, shuffle: int) -> None:
    parts = split_for_smpp(text, ref=ref_number, method=method, data_coding=DataCoding.LATIN1)
    _check_parts(text, parts, method, ref_number, shuffle)
    single, multi = ref.LIMITS[("Latin-1", 7 if method is ConcatMethod.UDH16 else 6)]
    expected = 1 if len(text) <= single else math.ceil(len(text) / multi)
    assert len(parts) == expected


@PROPERTY
@given(st.text(gsm_char, min_size=150, max_size=480), st.sampled_from([ConcatMethod.UDH, ConcatMethod.UDH16]))
def test_packed_gsm7_parts_are_at_most_140_octets(text: str, method: ConcatMethod) -> None:
    parts = split_for_smpp(text, ref=9, method=method, pack_gsm7=True)
    for part in parts:
        assert len(part.short_message) <= 140
        fill = udh_fill_bits(len(part.udh)) if part.udh else 0
        septets = ref.encode(part.text)
        assert part.data == ref.pack(septets, fill)
        assert unpack_septets(part.data, len(septets), fill_bits=fill) == septets


def test_sar_with_a_16_bit_reference_leaves_room_for_a_7_octet_udh() -> None:
    parts = split_for_smpp("a" * 305, ref=300, method=ConcatMethod.SAR)
    assert [len(part.data) for part in parts] == [152, 152, 1]
    assert [part.sar for part in parts if part.sar] and parts[0].sar is not None
    assert (parts[0].sar.msg_ref_num, parts[0].sar.total_segments, parts[0].sar.segment_seqnum) == (300, 3, 1)
    assert [len(part.data) for part in split_for_smpp("a" * 305, ref=30, method=ConcatMethod.SAR)] == [153, 152]


def test_escape_and_surrogate_pairs_stay_whole_at_the_part_boundary() -> None:
    gsm = split_for_smpp("a" * 152 + "€" + "b" * 10, ref=1)
    assert gsm[0].data.endswith(b"a") and gsm[1].data.startswith(b"\x1b\x65")
    ucs2 = split_for_smpp("Ж" * 66 + "😀" + "Ж" * 10, ref=1)
    assert len(ucs2[0].data) == 132 and ucs2[1].data.startswith(encode_ucs2("😀"))


def test_message_payload_is_one_part_whatever_the_length() -> None:
    (part,) = split_for_smpp("€" * 1000, ref=0, method=ConcatMethod.PAYLOAD)
    assert part.total == 1 and part.udh is None and part.sar is None
    assert part.data == encode_gsm7("€" * 1000)


def test_requested_data_coding_is_honoured_or_refused() -> None:
    (part,) = split_for_smpp("hello", ref=0, data_coding=DataCoding.UCS2)
    assert part.data == encode_ucs2("hello")
    with pytest.raises(EncodingError):
        split_for_smpp("Жук", ref=0, data_coding=DataCoding.SMSC_DEFAULT)
    with pytest.raises(EncodingError):
        split_for_smpp("5 €", ref=0, data_coding=DataCoding.LATIN1)


@pytest.mark.parametrize(
    ("method", "ref_number"),
    [(ConcatMethod.UDH, 256), (ConcatMethod.UDH, -1), (ConcatMethod.UDH16, 65536), (ConcatMethod.SAR, 70000)],
)
def test_reference_out_of_range(method: ConcatMethod, ref_number: int) -> None:
    with pytest.raises(ValueError, match="reference"):
        split_for_smpp("hi", ref=ref_number, method=method)


def test_too_many_parts_and_packed_sar_are_refused() -> None:
    with pytest.raises(EncodingError, match="255"):
        split_for_smpp("a" * 153 * 256, ref=1)
    with pytest.raises(ValueError, match="SAR"):
        split_for_smpp("hi", ref=1, method=ConcatMethod.SAR, pack_gsm7=True)


def test_concat_udh_layouts() -> None:
    assert concat_udh(0xAB, 3, 2) == bytes.fromhex("05 00 03 ab 03 02")
    assert concat_udh(0x1234, 3, 2, ref_bits=16) == bytes.fromhex("06 08 04 1234 03 02")
    with pytest.raises(ValueError):
        concat_udh(1, 2, 3)


def test_parse_udh_skips_other_elements_and_takes_the_last_concat_ie() -> None:
    # Application port addressing (IEI 0x05) first, then two concatenation IEs: the last one wins.
    message = bytes.fromhex("11 0504 0b840000 00030a0201 0804beef0302") + b"body"
    info = parse_udh(message)
    assert info == ConcatInfo(ref=0xBEEF, total=3, seq=2, body=b"body")
    elements, body = split_udh(message)
    assert [iei for iei, _ in elements] == [0x05, 0x00, 0x08] and body == b"body"


@pytest.mark.parametrize(
    "message",
    [
        bytes.fromhex("050003010200") + b"x",  # sequence 0: the IE is ignored
        bytes.fromhex("050003010003") + b"x",  # total 0
        bytes.fromhex("050003010203") + b"x",  # sequence past the total
        bytes.fromhex("0403020000") + b"x",  # concatenation IE with a wrong length
        bytes.fromhex("00") + b"x",  # empty UDH
    ],
)
def test_parse_udh_without_usable_concatenation(message: bytes) -> None:
    assert parse_udh(message) is None


@pytest.mark.parametrize("message", [b"", bytes.fromhex("0a0003"), bytes.fromhex("03000301"), bytes.fromhex("0100")])
def test_malformed_udh_raises(message: bytes) -> None:
    with pytest.raises(UdhError):
        parse_udh(message)


def test_reassembly_tolerates_duplicates_but_not_gaps_or_strangers() -> None:
    one, two = ConcatInfo(5, 2, 1, b"ab"), ConcatInfo(5, 2, 2, b"cd")
    assert reassemble([two, one, two]) == b"abcd"
    with pytest.raises(ValueError, match="missing"):
        reassemble([one])
    with pytest.raises(ValueError, match="different"):
        reassemble([one, ConcatInfo(6, 2, 2, b"cd")])
    with pytest.raises(ValueError, match="no parts"):
        reassemble([])


def test_reassembling_bytes_repairs_pairs_a_careless_sender_split() -> None:
    # Another ESME cut "€" between its escape and its code, and an emoji between its surrogates.
    gsm = encode_gsm7("a€b")
    ucs2 = encode_ucs2("a😀b")
    gsm_parts = [ConcatInfo(1, 2, 2, gsm[2:]), ConcatInfo(1, 2, 1, gsm[:2])]
    ucs2_parts = [ConcatInfo(1, 2, 1, ucs2[:4]), ConcatInfo(1, 2, 2, ucs2[4:])]
    assert decode_short_message(reassemble(gsm_parts), 0) == "a€b"
    assert decode_short_message(reassemble(ucs2_parts), 8) == "a😀b"


@pytest.mark.parametrize(
    ("data", "coding", "text"),
    [
        (b"\x00Hi", 0x00, "@Hi"),
        (b"\x00Hi", 0xF1, "@Hi"),  # GSM message class group, default alphabet
        (b"caf\xe9", 0x03, "café"),
        (b"plain", 0x01, "plain"),
        (encode_ucs2("Жук 😀"), 0x08, "Жук 😀"),
        (b"\x00\x41\xd8", 0x08, "A\ufffd"),  # a broken MO is decoded with replacement, not dropped
    ],
)
def test_decode_short_message_by_data_coding(data: bytes, coding: int, text: str) -> None:
    assert decode_short_message(data, coding) == text


@pytest.mark.parametrize("coding", [0x02, 0x04, 0xF4, 0x05])
def test_binary_and_unsupported_data_codings_raise(coding: int) -> None:
    with pytest.raises(EncodingError):
        decode_short_message(b"\x01\x02", coding)
