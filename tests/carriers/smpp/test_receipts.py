"""The receipt parser and id matching (pure; property-tested)."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from message_exchange.carriers.smpp.receipts import (
    MESSAGE_STATE_NAMES,
    STATES,
    TLV_MESSAGE_STATE,
    TLV_RECEIPTED_MESSAGE_ID,
    ReceiptError,
    is_receipt,
    parse_smpp_date,
    read_receipt,
    same_message_id,
)
from message_exchange.messages.status import MessageStatus

ids = st.text(alphabet="0123456789abcdefABCDEF-_xyz", min_size=1, max_size=40)
states = st.sampled_from(sorted(STATES))
texts = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40)


def _receipt_text(message_id: str, stat: str, err: str, text: str, done: str = "2611270510") -> bytes:
    return (
        f"id:{message_id} sub:001 dlvrd:001 submit date:2611270500 done date:{done} stat:{stat} err:{err} text:{text}"
    ).encode("latin-1")


@given(message_id=ids, stat=states, err=st.from_regex(r"[0-9]{3}", fullmatch=True), text=texts)
def test_the_standard_text_form_reads_back(message_id: str, stat: str, err: str, text: str) -> None:
    receipt = read_receipt(_receipt_text(message_id, stat, err, text), {})
    assert (receipt.message_id, receipt.state, receipt.error) == (message_id, stat, err)
    assert receipt.done_at == datetime(2026, 11, 27, 5, 10, tzinfo=UTC)


@given(message_id=ids, stat=states, text=texts)
def test_field_order_and_case_do_not_matter(message_id: str, stat: str, text: str) -> None:
    body = f"STAT:{stat} Err:042 ID:{message_id} done_date:2611270510 text:{text}".encode("latin-1")
    receipt = read_receipt(body, {})
    assert (receipt.message_id, receipt.state, receipt.error) == (message_id, stat, "042")


@given(message_id=ids, state=st.sampled_from(sorted(MESSAGE_STATE_NAMES)), stat=states)
def test_tlvs_win_over_the_text(message_id: str, state: int, stat: str) -> None:
    tlvs = {TLV_RECEIPTED_MESSAGE_ID: message_id.encode() + b"\x00", TLV_MESSAGE_STATE: bytes((state,))}
    receipt = read_receipt(_receipt_text("other", stat, "000", ""), tlvs)
    assert (receipt.message_id, receipt.state) == (message_id, MESSAGE_STATE_NAMES[state])


@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_crash_the_parser(data: bytes) -> None:
    try:
        receipt = read_receipt(data, {})
    except ReceiptError:
        return
    assert receipt.message_id and receipt.state in STATES


@given(st.integers(min_value=0, max_value=2**64 - 1), st.integers(min_value=0, max_value=6))
def test_an_id_matches_itself_in_hex_and_in_decimal(number: int, padding: int) -> None:
    hex_id = format(number, "X").rjust(padding + 1, "0")
    assert same_message_id(hex_id, str(number))
    assert same_message_id(str(number), hex_id)
    assert same_message_id(hex_id.lower(), hex_id)


def test_the_state_table() -> None:
    assert STATES["DELIVRD"].status is MessageStatus.DELIVERED
    assert {STATES[s].status for s in ("ACCEPTD", "ENROUTE")} == {MessageStatus.SENT}
    assert {s: STATES[s].status for s in ("UNDELIV", "EXPIRED", "DELETED", "UNKNOWN")} == dict.fromkeys(
        ("UNDELIV", "EXPIRED", "DELETED", "UNKNOWN"), MessageStatus.UNDELIVERED
    )
    assert (STATES["REJECTD"].status, STATES["REJECTD"].error_code) == (MessageStatus.FAILED, 30007)


def test_receipt_esm_classes() -> None:
    assert is_receipt(0x04) and is_receipt(0x20) and is_receipt(0x44)
    assert not is_receipt(0x00) and not is_receipt(0x40)


@pytest.mark.parametrize("body", [b"", b"hello", b"id: stat:DELIVRD", b"id:abc sub:001"])
def test_a_receipt_without_id_or_state_is_refused(body: bytes) -> None:
    with pytest.raises(ReceiptError):
        read_receipt(body, {})


smpp_dates = st.datetimes(min_value=datetime(1969, 1, 1), max_value=datetime(2068, 12, 31, 23, 59, 59)).flatmap(
    lambda moment: st.sampled_from([moment.strftime("%y%m%d%H%M"), moment.strftime("%y%m%d%H%M%S")])
)


@given(smpp_dates | st.text(alphabet="0123456789", min_size=10, max_size=12) | st.text(max_size=14))
def test_receipt_dates_read_as_strptime_reads_them(value: str) -> None:
    """``YYMMDDhhmm[ss]`` by hand must mean what strptime's ``%y%m%d%H%M[%S]`` means, century included."""
    digits = value.strip()
    expected = None
    if digits.isdigit() and len(digits) in (10, 12):
        with contextlib.suppress(ValueError):
            pattern = "%y%m%d%H%M%S" if len(digits) == 12 else "%y%m%d%H%M"
            expected = datetime.strptime(digits, pattern).replace(tzinfo=UTC)
    assert parse_smpp_date(value) == expected
