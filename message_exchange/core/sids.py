"""Resource ids: a two-to-three letter prefix and 32 lowercase hex digits (a uuid4)."""

from __future__ import annotations

import re
import uuid

_SID_RE = re.compile(r"[A-Z]{2,3}[0-9a-f]{32}")


def new_sid(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex}"


def is_sid(value: str, prefix: str) -> bool:
    return value.startswith(prefix) and len(value) == len(prefix) + 32 and _SID_RE.fullmatch(value) is not None
