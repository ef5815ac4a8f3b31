"""PDU-level splitting: what submit_sm fields a message becomes (pure; property-tested)."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from message_exchange.carriers.base import OutboundMessage
from message_exchange.carriers.smpp.carrier import split_message, submit_fields
from message_exchange.carriers.smpp.config import SmppConfig
from message_exchange.encoding import decode_gsm7, decode_latin1, decode_ucs2, parse_udh

BASE = SmppConfig(name="c", host="h", port=1, system_id="s", password="p")
bodies = st.text(
    alphabet=st.one_of(
        st.sampled_from("abc XYZ 0123 @£$¥èéùìòÇ{}[]~^\\|€"),
        st.characters(min_codepoint=0x20, max_codepoint=0x2FF),
        st.sampled_from("Ж中😀👋🏽"),
    ),
    min_size=1,
    max_size=700,
)
methods = st.sampled_from(["udh", "sar", "payload"])
policies = st.sampled_from(["auto", "gsm7", "latin1", "ucs2"])


def _decode(data: bytes, coding: int) -> str:
    return {0: decode_gsm7, 3: decode_latin1, 8: decode_ucs2}[coding](data)


@settings(max_examples=150, deadline=None)
@given(body=bodies, method=methods, policy=policies, sender=st.sampled_from(["+15550001111", "ACME"]))
def test_parts_carry_the_whole_text_in_order_within_140_octets(
    body: str, method: str, policy: str, sender: str
) -> None:
    config = replace(BASE, long_message=method, data_coding=policy)  # type: ignore[arg-type]
    message = OutboundMessage("SM" + "1" * 32, "AC" + "2" * 32, "sms", sender, "+4477001234", body)
    parts = split_message(config, message)
    fields = [submit_fields(config, message, part) for part in parts]
    rebuilt = []
    refs = set()
    for part, field in zip(parts, fields, strict=True):
        assert field["destination_addr"] == "4477001234"
        assert field["source_addr_ton"] == (1 if sender.startswith("+") else 5)
        coding = field["data_coding"]
        assert isinstance(coding, int) and coding in (0, 3, 8)
        if policy == "ucs2":
            assert coding == 8
        short = field["short_message"]
        assert isinstance(short, bytes)
        tlvs = {tlv.tag: tlv.value for tlv in field["tlvs"]}  # type: ignore[attr-defined]
        if method == "payload":
            assert short == b"" and len(parts) == 1
            rebuilt.append(_decode(tlvs[0x0424], coding))
            continue
        octets = len(short) if coding != 0 else (len(short) * 7 + 7) // 8  # GSM-7 goes unpacked
        assert octets <= 140
        if method == "udh" and len(parts) > 1:
            assert field["esm_class"] == 0x40
            info = parse_udh(short)
            assert info is not None and (info.seq, info.total) == (part.index, len(parts))
            refs.add(info.ref)
            rebuilt.append(_decode(info.body, coding))
        else:
            if len(parts) > 1:
                assert (tlvs[0x020E], tlvs[0x020F]) == (bytes((len(parts),)), bytes((part.index,)))
                refs.add(tlvs[0x020C])
            rebuilt.append(_decode(short, coding))
    assert "".join(rebuilt) == body
    assert len(refs) <= 1  # one reference for every part of a message


def test_the_reference_is_stable_for_a_message() -> None:
    message = OutboundMessage("SM" + "3" * 32, "AC" + "2" * 32, "sms", "+1555", "+1666", "q" * 400)
    first = [p.ref for p in split_message(BASE, message)]
    assert first == [p.ref for p in split_message(BASE, message)] and len(set(first)) == 1
