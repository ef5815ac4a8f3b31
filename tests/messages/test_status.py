"""Property tests of the status machine: forward only, finals fixed, any event order converges."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from message_exchange.messages.status import FINAL, MessageStatus, advance

S = MessageStatus
OUTBOUND_EVENTS = [S.SENDING, S.SENT, S.DELIVERED, S.UNDELIVERED, S.FAILED]


def replay(events: list[MessageStatus]) -> tuple[MessageStatus, list[MessageStatus]]:
    status = S.QUEUED
    path = [status]
    for event in events:
        moved = advance(status, event)
        if moved is not None:
            status = moved
            path.append(status)
    return status, path


def test_the_happy_path() -> None:
    assert replay([S.SENDING, S.SENT, S.DELIVERED]) == (S.DELIVERED, [S.QUEUED, S.SENDING, S.SENT, S.DELIVERED])


def test_a_late_sent_after_delivered_is_ignored() -> None:
    assert replay([S.SENDING, S.DELIVERED, S.SENT]) == (S.DELIVERED, [S.QUEUED, S.SENDING, S.DELIVERED])


def test_final_states_never_change() -> None:
    for final in FINAL:
        for event in MessageStatus:
            assert advance(final, event) is None


def test_failed_from_any_open_state() -> None:
    for open_state in (S.QUEUED, S.SENDING, S.SENT):
        assert advance(open_state, S.FAILED) is S.FAILED


def test_queued_and_received_are_never_events() -> None:
    assert advance(S.SENDING, S.QUEUED) is None
    assert advance(S.QUEUED, S.RECEIVED) is None


@settings(max_examples=300)
@given(st.lists(st.sampled_from(OUTBOUND_EVENTS), max_size=12))
def test_status_only_moves_forward(events: list[MessageStatus]) -> None:
    order = {S.QUEUED: 0, S.SENDING: 1, S.SENT: 2, S.DELIVERED: 3, S.UNDELIVERED: 3, S.FAILED: 3}
    _, path = replay(events)
    ranks = [order[s] for s in path]
    assert ranks == sorted(ranks) and len(set(ranks)) == len(ranks)
    assert sum(1 for s in path if s in FINAL) <= 1


@settings(max_examples=300)
@given(st.permutations([S.SENDING, S.SENT, S.DELIVERED]))
def test_any_arrival_order_of_one_message_ends_delivered(events: list[MessageStatus]) -> None:
    final, path = replay(list(events))
    assert final is S.DELIVERED
    assert path[0] is S.QUEUED and path[-1] is S.DELIVERED
