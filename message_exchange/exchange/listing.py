"""One page of a listing (both exchanges' enterprises, mappings, bots and message records)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from message_exchange.core.paging import PageRequest
from message_exchange.core.sorting import Sort

F = TypeVar("F")
F_contra = TypeVar("F_contra", contravariant=True)
R = TypeVar("R")


@dataclass(frozen=True)  # no slots: ``ListQuery[X](…)`` sets ``__orig_class__`` (frozen: refused, ignored)
class ListQuery(Generic[F]):
    page: PageRequest
    sort: Sort
    flt: F


class Pager(Protocol[F_contra, R]):
    def __call__(self, flt: F_contra, sort: Sort, *, offset: int, limit: int) -> Awaitable[list[R]]: ...


async def listing(query: ListQuery[F], count: Callable[[F], Awaitable[int]], page: Pager[F, R]) -> tuple[int, list[R]]:
    """(the total, the page's rows) by a repository's ``count_…`` and ``page_…``."""
    total = await count(query.flt)
    rows = await page(query.flt, query.sort, offset=query.page.offset, limit=query.page.page_size)
    return total, rows
