"""A message list's query parameters → a validated :class:`MessageQuery` (400 on bad input)."""

from __future__ import annotations

from collections.abc import Mapping

from message_exchange.core.dates import parse_time_filter
from message_exchange.core.errors import BadRequest
from message_exchange.core.paging import parse_page_request
from message_exchange.core.sorting import parse_sort
from message_exchange.messages.repository import MessageFilter, address_pattern
from message_exchange.messages.service import DEFAULT_SORT, MESSAGE_SORTS, MessageQuery
from message_exchange.messages.status import MessageStatus

_STATUSES = frozenset(s.value for s in MessageStatus)


def query_from_params(params: Mapping[str, str], account_sid: str) -> MessageQuery:
    """``To, From, StartTime, EndTime, Status, ErrorCode, Body, SortBy, Page, PageSize``."""
    status = params.get("Status") or None
    if status is not None and status not in _STATUSES:
        raise BadRequest(f"Status {status!r} is not a message status", param="Status")
    error_code = params.get("ErrorCode") or None
    if error_code is not None and not (error_code.isascii() and error_code.isdigit() and len(error_code) < 10):
        raise BadRequest("ErrorCode must be a number", param="ErrorCode")
    start, end = params.get("StartTime"), params.get("EndTime")
    to, from_ = params.get("To"), params.get("From")
    return MessageQuery(
        page=parse_page_request(params),
        sort=parse_sort(params.get("SortBy"), MESSAGE_SORTS, default=DEFAULT_SORT),
        flt=MessageFilter(
            account_sid=account_sid,
            to=address_pattern(to) if to else None,
            from_=address_pattern(from_) if from_ else None,
            status=status,
            error_code=int(error_code) if error_code else None,
            body=params.get("Body") or None,
            start=parse_time_filter(start, param="StartTime", end_of_range=False) if start else None,
            end=parse_time_filter(end, param="EndTime", end_of_range=True) if end else None,
        ),
    )
