"""The RCML / TwiML messaging reply: what a number's SmsUrl may answer with.

::

    <Response>
      <Message to="+1…" from="+1…" action="https://…" method="POST">text<Media>https://…</Media></Message>
      <Sms to="+1…" from="+1…" action="https://…" method="POST">text</Sms>
    </Response>

``<Message>`` is Twilio's verb (its text may also sit in a ``<Body>`` child), ``<Sms>``
Restcomm's. Every attribute is optional. A document type declaration (and so any entity)
is refused before parsing: the stdlib parser would expand internal entities, which is the
"billion laughs" attack. Anything that is not such a document raises :class:`RcmlError`.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

MAX_RCML_CHARS = 64 * 1024
VERBS = ("Message", "Sms")
_DECLARATION = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


class RcmlError(ValueError):
    """The reply is not an RCML document we execute."""


@dataclass(frozen=True, slots=True)
class ReplyVerb:
    verb: str
    body: str
    media: tuple[str, ...] = ()
    to: str | None = None
    from_: str | None = None
    action: str | None = None
    method: str | None = None


def _attr(element: ET.Element, name: str) -> str | None:
    value = element.get(name)
    return value.strip() or None if value is not None else None


def _verb(element: ET.Element) -> ReplyVerb:
    parts = [element.text or ""]
    media: list[str] = []
    for child in element:
        if child.tag == "Body":
            parts.append(child.text or "")
        elif child.tag == "Media":
            if child.text and child.text.strip():
                media.append(child.text.strip())
        else:
            raise RcmlError(f"<{element.tag}> cannot contain <{child.tag}>")
        parts.append(child.tail or "")
    return ReplyVerb(
        verb=element.tag,
        body="".join(parts).strip(),
        media=tuple(media),
        to=_attr(element, "to"),
        from_=_attr(element, "from"),
        action=_attr(element, "action") or _attr(element, "statusCallback"),
        method=_attr(element, "method"),
    )


def parse_reply(text: str) -> list[ReplyVerb]:
    """The messaging verbs of an RCML ``<Response>``, in document order (may be none)."""
    stripped = text.strip()
    if not stripped:
        raise RcmlError("empty reply")
    if len(stripped) > MAX_RCML_CHARS:
        raise RcmlError("reply too large")
    if not stripped.startswith("<"):
        raise RcmlError("not XML")
    if _DECLARATION.search(stripped):
        raise RcmlError("document type declarations and entities are not allowed")
    try:
        root = ET.fromstring(stripped)
    except ET.ParseError as exc:
        raise RcmlError(f"malformed XML: {exc}") from None
    if root.tag != "Response":
        raise RcmlError(f"the root element must be <Response>, not <{root.tag}>")
    verbs: list[ReplyVerb] = []
    for element in root:
        if element.tag in VERBS:
            verbs.append(_verb(element))
        else:
            raise RcmlError(f"unsupported verb <{element.tag}>")
    return verbs
