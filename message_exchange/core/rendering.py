"""JSON and Restcomm-XML renderings, and the ``.json`` / ``.xml`` path suffix.

Restcomm routes are declared as ``/Accounts{fmt:fmt}``: the ``fmt`` convertor matches an
optional ``.json`` or ``.xml`` suffix, so one route serves all three spellings and the
OpenAPI document still lists it once. A path segment before the suffix must use the lazy
``sid`` convertor, also registered here (``/Accounts/{sid:sid}{fmt:fmt}``); the default
``{sid}`` is greedy and would swallow the suffix.

Values render the same way in both formats: ``None`` is JSON ``null`` and an empty XML
element, booleans are ``true``/``false``, enums render their value, datetimes ISO-8601 and
``Decimal`` amounts as strings (``"0.0"``, as the documents print prices).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Any
from xml.etree import ElementTree as ET

import orjson
from starlette.convertors import Convertor, register_url_convertor
from starlette.responses import Response


class Format(StrEnum):
    JSON = "json"
    XML = "xml"


class _FormatConvertor(Convertor[str]):
    regex = r"(?:\.json|\.xml)?"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("fmt", _FormatConvertor())


class _SidConvertor(Convertor[str]):
    """A path segment matched lazily, so a following ``{fmt:fmt}`` keeps its ``.json``."""

    regex = r"[^/]+?"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("sid", _SidConvertor())


def parse_format(suffix: str) -> Format:
    """The representation a ``{fmt:fmt}`` suffix asks for: ``.xml`` → XML, else JSON."""
    return Format.XML if suffix == ".xml" else Format.JSON


def format_of_path(path: str) -> Format:
    return Format.XML if path.endswith(".xml") else Format.JSON


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def json_bytes(content: Any) -> bytes:
    """Serialize like every JSON response of the API (orjson, non-str keys, Decimal as str)."""
    return orjson.dumps(content, default=_json_default, option=orjson.OPT_NON_STR_KEYS)


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return json_bytes(content)


_CAMEL_RE = re.compile(r"(?:^|_)([a-z0-9])")
_NOT_NAME_CHAR = re.compile(r"[^A-Za-z0-9_.-]")
# Characters XML 1.0 cannot carry at all (C0 controls but tab/LF/CR, lone surrogates, U+FFFE/F).
_NOT_XML_CHAR = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_name(name: str) -> str:
    name = _NOT_NAME_CHAR.sub("_", name)
    return name if name[:1].isalpha() or name[:1] == "_" else f"_{name}"


def xml_tag(key: str) -> str:
    """``friendly_name`` → ``FriendlyName`` (Restcomm's XML element names).

    Whatever the key, the result is a valid XML name: other characters become ``_`` and a
    name that would start with a digit, ``.`` or ``-`` (or be empty) gets a leading ``_``.
    """
    return _xml_name(_CAMEL_RE.sub(lambda m: m.group(1).upper(), key))


def xml_attribute(key: str) -> str:
    """``num_pages`` → ``numpages`` (Restcomm's list attributes), made a valid XML name."""
    return _xml_name(key.replace("_", ""))


def _singular(tag: str) -> str:
    """The element name of one item of a list element: ``MediaUrls`` → ``MediaUrl``."""
    if tag.endswith("ies") and len(tag) > 3:
        return f"{tag[:-3]}y"
    if tag.endswith(("sses", "shes", "ches", "xes", "uses")):
        return tag[:-2]
    if tag.endswith("s") and not tag.endswith(("ss", "us")) and len(tag) > 1:
        return tag[:-1]
    return tag


def _xml_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return _xml_text(value.value)
    if isinstance(value, (datetime, date, time)):
        text = value.isoformat()
    elif isinstance(value, bytes):
        text = value.decode("utf-8", "replace")
    else:
        text = str(value)
    return _NOT_XML_CHAR.sub("\ufffd", text)


def _append(parent: ET.Element, tag: str, value: Any) -> None:
    child = ET.SubElement(parent, tag)
    if isinstance(value, Mapping):
        for key, sub in value.items():
            _append(child, xml_tag(str(key)), sub)
    elif isinstance(value, (list, tuple, set, frozenset)):
        singular = _singular(tag)
        for item in value:
            _append(child, singular, item)
    else:
        child.text = _xml_text(value)


def _to_bytes(response: ET.Element) -> bytes:
    body: bytes = ET.tostring(response, encoding="utf-8", xml_declaration=True)
    # ElementTree leaves CR raw in text, and XML parsers turn it into LF: a CRLF message
    # body would come back changed. A raw CR only ever appears in text, so escape it there.
    return body.replace(b"\r", b"&#13;")


def render_xml(root_tag: str, resource: Mapping[str, Any]) -> bytes:
    """``<RestcommResponse><{root_tag}>…</{root_tag}></RestcommResponse>``."""
    response = ET.Element("RestcommResponse")
    _append(response, root_tag, resource)
    return _to_bytes(response)


def render_xml_list(
    list_tag: str, item_tag: str, attributes: Mapping[str, Any], items: Sequence[Mapping[str, Any]]
) -> bytes:
    """A page in XML: paging fields as attributes of the list element (Restcomm/Twilio style).

    ``num_pages`` becomes ``numpages``, ``first_page_uri`` ``firstpageuri`` …; an attribute
    whose value is ``None`` is left out.
    """
    response = ET.Element("RestcommResponse")
    attrs = {xml_attribute(key): text for key, value in attributes.items() if (text := _xml_text(value)) is not None}
    container = ET.SubElement(response, list_tag, attrs)
    for item in items:
        _append(container, item_tag, item)
    return _to_bytes(response)


def xml_response(body: bytes, status_code: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(body, status_code=status_code, media_type="application/xml", headers=headers)


def render_resource(fmt: Format, tag: str, resource: Mapping[str, Any], status_code: int = 200) -> Response:
    """One resource as JSON, or as ``<RestcommResponse><{tag}>…`` XML."""
    if fmt is Format.XML:
        return xml_response(render_xml(tag, resource), status_code)
    return JSONResponse(dict(resource), status_code=status_code)
