"""Encoding choice and segmentation, against the reference: sizes, no split pairs, fewest parts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from message_exchange.encoding import (
    MAX_BODY_CHARS,
    BodyNotText,
    BodyTooLong,
    TextEncoding,
    count_segments,
    segment,
    validate_body,
)
from message_exchange.encoding.segments import body_length
from tests.encoding import reference_gsm0338 as ref
from tests.encoding.strategies import PROPERTY, gsm_text, message_text, ucs2_text


def _check_plan(text: str, *, force_ucs2: bool = False, udh_octets: int = 6) -> list[str]:
    plan = segment(text, force_ucs2=force_ucs2, udh_length=udh_octets)
    encoding = ref.encoding_for(text, force_ucs2)
    single, multi = ref.LIMITS[(encoding, udh_octets)]
    parts = list(plan.parts)

    assert plan.encoding.value == encoding
    assert "".join(parts) == text == plan.text
    assert plan.units == ref.units(text, encoding)
    assert plan.num_segments == len(parts) == count_segments(text, force_ucs2=force_ucs2, udh_length=udh_octets)
    assert plan.num_segments == ref.min_segments(text, encoding, udh_octets)
    if len(parts) == 1:
        assert ref.units(text, encoding) <= single
        return parts
    assert ref.units(text, encoding) > single
    for index, part in enumerate(parts):
        assert part, "no empty part in a concatenated message"
        assert ref.units(part, encoding) <= multi
        if index + 1 < len(parts):
            # Greedy: the next character did not fit, so no part could have been longer.
            assert ref.units(part + parts[index + 1][0], encoding) > multi
        if encoding == "GSM-7":
            septets = ref.encode(part)
            assert ref.decode(septets) == part  # self-contained: no escape without its code
        else:
            encoded = ref.encode_utf16be(part)
            first, last = int.from_bytes(encoded[:2], "big"), int.from_bytes(encoded[-2:], "big")
            assert not 0xDC00 <= first <= 0xDFFF, "part starts with a low surrogate"
            assert not 0xD800 <= last <= 0xDBFF, "part ends with a high surrogate"
    return parts


@PROPERTY
@given(gsm_text)
def test_gsm_texts(text: str) -> None:
    _check_plan(text)


@PROPERTY
@given(ucs2_text)
def test_ucs2_texts(text: str) -> None:
    _check_plan(text)


@PROPERTY
@given(message_text, st.booleans(), st.sampled_from([6, 7]))
def test_mixed_texts_forced_ucs2_and_16_bit_references(text: str, force_ucs2: bool, udh_octets: int) -> None:
    _check_plan(text, force_ucs2=force_ucs2, udh_octets=udh_octets)


def _sizes(text: str, *, force_ucs2: bool = False, udh_length: int = 6) -> list[int]:
    plan = segment(text, force_ucs2=force_ucs2, udh_length=udh_length)
    return [ref.units(part, plan.encoding.value) for part in plan.parts]


def test_empty_text_is_one_gsm_segment() -> None:
    plan = segment("")
    assert plan.encoding is TextEncoding.GSM7
    assert plan.parts == ("",)
    assert plan.num_segments == count_segments("") == 1


@pytest.mark.parametrize(
    ("text", "sizes"),
    [
        ("a" * 160, [160]),
        ("a" * 161, [153, 8]),
        ("a" * 306, [153, 153]),
        ("a" * 307, [153, 153, 1]),
        ("a" * 158 + "€", [160]),  # 160 septets with the escape pair: still one SMS
        ("a" * 159 + "€", [153, 8]),  # 161 septets
        ("€" * 80, [160]),
        ("€" * 81, [152, 10]),  # 76 euro signs a part: 153 would cut the 77th pair
        ("a" * 152 + "€" + "b" * 10, [152, 12]),  # the pair would straddle 153: it moves whole
        ("a" * 151 + "€" + "b" * 10, [153, 10]),  # the pair ends exactly at 153
        ("a" * 152 + "[]" + "b" * 5, [152, 9]),
    ],
)
def test_gsm7_boundaries(text: str, sizes: list[int]) -> None:
    assert _sizes(text) == sizes
    assert count_segments(text) == len(sizes)
    _check_plan(text)


@pytest.mark.parametrize(
    ("text", "sizes"),
    [
        ("Ж" * 70, [70]),
        ("Ж" * 71, [67, 4]),
        ("😀" * 35, [70]),
        ("😀" * 36, [66, 6]),  # 33 emoji a part: 67 would cut the 34th pair
        ("Ж" * 66 + "😀" + "Ж" * 10, [66, 12]),  # the pair would straddle 67: it moves whole
        ("Ж" * 65 + "😀" + "Ж" * 10, [67, 10]),
        ("Ж" * 68 + "😀", [70]),
        ("Ж" * 69 + "😀", [67, 4]),
        ("€" * 70, [70]),  # '€' is one code unit in UCS-2 …
        ("€" * 70 + "Ж", [67, 4]),  # … and here UCS-2 is needed
    ],
)
def test_ucs2_boundaries(text: str, sizes: list[int]) -> None:
    assert _sizes(text, force_ucs2=True) == sizes
    assert count_segments(text, force_ucs2=True) == len(sizes)


def test_one_non_gsm_character_switches_the_whole_body_to_ucs2() -> None:
    text = "a" * 100 + "ç"
    plan = segment(text)
    assert plan.encoding is TextEncoding.UCS2
    assert plan.num_segments == 2  # 101 units > 70, where GSM-7 would have been one SMS
    assert segment("a" * 100 + "Ç").num_segments == 1  # capital Ç is in the alphabet


def test_sixteen_bit_reference_parts_are_one_unit_smaller() -> None:
    assert _sizes("a" * 305, udh_length=7) == [152, 152, 1]
    assert [len(p) for p in segment("Ж" * 133, udh_length=7).parts] == [66, 66, 1]


def test_body_limit_counts_code_points() -> None:
    assert MAX_BODY_CHARS == 1600
    validate_body("a" * 1600)
    validate_body("😀" * 1600)  # an emoji counts 1 even though it takes two UCS-2 units
    assert body_length("👍🏽") == 2  # emoji + skin-tone modifier: two code points
    with pytest.raises(BodyTooLong) as info:
        validate_body("a" * 1601)
    assert (info.value.length, info.value.limit, info.value.code) == (1601, 1600, 21617)
    with pytest.raises(BodyTooLong):
        validate_body("abc", max_chars=2)


@pytest.mark.parametrize("text", ["a\x00b", "a\ud83d", "\ude00"])
def test_body_must_be_storable_text(text: str) -> None:
    with pytest.raises(BodyNotText):
        validate_body(text)


def test_lone_surrogates_still_segment_without_crashing() -> None:
    # validate_body refuses them; segmentation must still not blow up on such a str.
    assert count_segments("\ud83d" * 71) == 2
