"""Restcomm paging: ``Page`` (from 0) and ``PageSize``, and the page envelope.

``num_pages`` follows the documents' table ("the total number of pages", i.e.
``ceil(total / page_size)``); the Messages API example shows ``0`` for five records, which
is Restcomm's last-page index — a client walking ``next_page_uri`` sees the same pages
either way. ``start``/``end`` are strings as in the document's example (``end`` is the
index after the last item). Absent links are the string ``"null"`` on the Restcomm
families and JSON ``null`` on the Twilio-shaped one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response

from message_exchange.core.errors import BadRequest
from message_exchange.core.rendering import Format, JSONResponse, render_xml_list, xml_response

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
RESTCOMM_NULL = "null"
# No list is anywhere near this long; a page beyond it would overflow SQL's 64-bit OFFSET.
MAX_OFFSET = 2**53
_WHOLE_NUMBER = re.compile(r"-?[0-9]+", re.ASCII)
# PageToken: Twilio clients send it; our pages are numbered, so links drop it.
_PAGING_PARAMS = ("Page", "PageSize", "PageToken")


@dataclass(frozen=True, slots=True)
class PageRequest:
    page: int
    page_size: int

    @property
    def offset(self) -> int:
        return self.page * self.page_size


def _int_param(params: Mapping[str, str], name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    text = raw.strip()
    if not _WHOLE_NUMBER.fullmatch(text):
        # Digits only: int() would also take "1_0", "+1" and non-ASCII digits.
        raise BadRequest(f"{name} must be a whole number, got {raw!r}", param=name)
    if len(text) > 19:
        raise BadRequest(f"{name} is out of range, got {raw!r}", param=name)
    return int(text)


def parse_page_request(
    params: Mapping[str, str],
    *,
    default_size: int = DEFAULT_PAGE_SIZE,
    max_size: int = MAX_PAGE_SIZE,
    page_param: str = "Page",
    size_param: str = "PageSize",
) -> PageRequest:
    """Read ``Page`` (from 0) and ``PageSize``; a bad, negative or too large value → 400 naming it.

    An absent or empty parameter takes its default. ``page_param``/``size_param`` let the
    exchange families read ``page``/``pageSize`` with the same rules.
    """
    page = _int_param(params, page_param, 0)
    size = _int_param(params, size_param, default_size)
    if page < 0:
        raise BadRequest(f"{page_param} must be 0 or greater, got {page}", param=page_param)
    if not 1 <= size <= max_size:
        raise BadRequest(f"{size_param} must be between 1 and {max_size}, got {size}", param=size_param)
    if page * size > MAX_OFFSET:
        raise BadRequest(f"{page_param} {page} does not exist", param=page_param)
    return PageRequest(page=page, page_size=size)


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a list, with what its envelope needs."""

    request: PageRequest
    total: int
    items: Sequence[Mapping[str, Any]]

    @property
    def num_pages(self) -> int:
        return -(-self.total // self.request.page_size)

    def check_in_range(self) -> None:
        """Page 0 always exists (maybe empty); any later page must hold records."""
        if self.request.page > 0 and self.request.page >= self.num_pages:
            raise BadRequest(
                f"Page {self.request.page} does not exist; this list has {self.num_pages} page(s)", param="Page"
            )


def ensure_page_exists(request: PageRequest, total: int) -> None:
    Page(request=request, total=total, items=()).check_in_range()


def page_envelope(
    page: Page,
    *,
    uri: str,
    query: Sequence[tuple[str, str]] = (),
    list_key: str,
    null_link: str | None = RESTCOMM_NULL,
) -> dict[str, Any]:
    """The Restcomm page envelope; ``uri`` is the list's relative path, ``query`` its filters.

    Every link repeats the filters (any ``Page``/``PageSize`` in ``query`` is replaced).
    ``null_link`` is what an absent previous/next link is: the string ``"null"`` on the
    Restcomm families, ``None`` (JSON null) on the Twilio-shaped one.
    """
    req = page.request
    last = max(page.num_pages - 1, 0)
    filters = [(key, value) for key, value in query if key not in _PAGING_PARAMS]

    def link(number: int) -> str:
        return f"{uri}?{urlencode([*filters, ('Page', str(number)), ('PageSize', str(req.page_size))])}"

    current = link(req.page)
    return {
        "page": req.page,
        "num_pages": page.num_pages,
        "page_size": req.page_size,
        "total": page.total,
        "start": str(req.offset),
        "end": str(req.offset + len(page.items)),
        "uri": current,
        "first_page_uri": link(0),
        "previous_page_uri": link(req.page - 1) if req.page > 0 else null_link,
        "next_page_uri": link(req.page + 1) if req.page < last else null_link,
        "last_page_uri": link(last),
        list_key: list(page.items),
    }


def render_page(
    fmt: Format,
    page: Page,
    *,
    uri: str,
    query: Sequence[tuple[str, str]] = (),
    list_key: str,
    list_tag: str,
    item_tag: str,
    null_link: str | None = RESTCOMM_NULL,
) -> Response:
    """Render a Restcomm page as JSON, or as XML with the paging fields as attributes."""
    envelope = page_envelope(page, uri=uri, query=query, list_key=list_key, null_link=null_link)
    if fmt is Format.XML:
        items = envelope.pop(list_key)
        return xml_response(render_xml_list(list_tag, item_tag, envelope, items))
    return JSONResponse(envelope)
