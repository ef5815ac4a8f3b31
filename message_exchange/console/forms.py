"""Small helpers the console's pages share: paging, errors shown inline beside a form."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from message_exchange.core.errors import MXError
from message_exchange.core.paging import PageRequest

PAGE_SIZE = 20


def page_request(raw: str | None, size: int = PAGE_SIZE) -> PageRequest:
    """``?page=N`` (from 0); anything that is not a small number is the first page."""
    number = int(raw) if raw and raw.isascii() and raw.isdigit() and len(raw) < 7 else 0
    return PageRequest(page=number, page_size=size)


@dataclass(frozen=True, slots=True)
class Pager:
    page: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def previous(self) -> int | None:
        return self.page - 1 if self.page > 0 else None

    @property
    def next(self) -> int | None:
        return self.page + 1 if self.page + 1 < self.pages else None


def pager(request: PageRequest, total: int) -> Pager:
    return Pager(request.page, request.page_size, total)


@dataclass(frozen=True, slots=True)
class Problem:
    """An API error as the console shows it: the API's own message, its code and the field it names."""

    message: str
    code: str
    field: str | None

    @classmethod
    def of(cls, error: MXError) -> Problem:
        data: Any = getattr(error, "data", None)
        message = error.message
        if data not in (None, "") and str(data) not in message:
            message = f"{message}: {data}"
        return cls(message=message, code=str(error.code), field=error.param)


def status_of(error: MXError) -> int:
    """The HTTP status a page showing ``error`` answers with: the API's own, 400 for a server-side failure."""
    return error.status_code if 400 <= error.status_code < 500 else 400
