"""``SortBy=<attribute>:<asc|desc>``, validated against the attributes a list allows."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from message_exchange.core.errors import BadRequest


@dataclass(frozen=True, slots=True)
class Sort:
    attribute: str
    descending: bool


def parse_sort(value: str | None, allowed: Iterable[str], *, default: Sort, param: str = "SortBy") -> Sort:
    """Match the attribute case-insensitively and return its canonical spelling.

    Unknown attribute or direction → 400 listing what is allowed. No direction means asc.
    """
    if value is None or value.strip() == "":
        return default
    names = {name.lower(): name for name in allowed}
    attribute, _, direction = value.strip().partition(":")
    canonical = names.get(attribute.strip().lower())
    if canonical is None:
        raise BadRequest(
            f"{param} attribute {attribute!r} is not sortable; use one of {', '.join(sorted(names.values()))}",
            param=param,
        )
    direction = direction.strip().lower() or "asc"
    if direction not in ("asc", "desc"):
        raise BadRequest(f"{param} direction must be asc or desc, got {direction!r}", param=param)
    return Sort(attribute=canonical, descending=direction == "desc")
