"""``X-Twilio-Signature``: how the receiver of a webhook knows it came from us, unchanged.

The signature is ``base64(HMAC-SHA1(auth_token, url + params))`` where ``url`` is the exact
URL requested (with its query string, for GET the parameters too) and ``params`` is the
concatenation of each POST form parameter's name and value, sorted by name; a name that
repeats contributes each distinct value, values sorted (exactly what the validator computes:
it de-duplicates repeated identical values). GET requests and JSON bodies have no params
part: a JSON body is covered by appending ``bodySHA256=<hex sha256 of the body>`` to the URL
(see :func:`signed_json_url`). This is what ``twilio.request_validator.RequestValidator``
checks, keyed with the account's auth token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

SIGNATURE_HEADER = "X-Twilio-Signature"

Params = Mapping[str, str | Sequence[str]]


def _values(value: str | Sequence[str]) -> list[str]:
    return [value] if isinstance(value, str) else [str(v) for v in value]


def signing_payload(url: str, params: Params | None = None) -> str:
    """The string that is signed: the URL, then ``key + value`` pairs sorted by key and value."""
    parts = [url]
    given: Params = params or {}
    for key in sorted(given):
        for value in sorted(set(_values(given[key]))):
            parts.append(f"{key}{value}")
    return "".join(parts)


def twilio_signature(auth_token: str, url: str, params: Params | None = None) -> str:
    """The ``X-Twilio-Signature`` value of a request to ``url`` with form ``params`` (none for GET)."""
    digest = hmac.new(auth_token.encode("utf-8"), signing_payload(url, params).encode("utf-8"), hashlib.sha1)
    return base64.b64encode(digest.digest()).decode("ascii")


def body_sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def signed_json_url(url: str, body: bytes) -> str:
    """``url`` with ``bodySHA256=<hex sha256 of body>`` appended: what a JSON POST goes to and is signed over."""
    scheme, netloc, path, query, fragment = urlsplit(url)
    pairs = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "bodySHA256"]
    pairs.append(("bodySHA256", body_sha256(body)))
    return urlunsplit((scheme, netloc, path, urlencode(pairs), fragment))


def json_signature(auth_token: str, url: str, body: bytes) -> tuple[str, str]:
    """(URL to POST the JSON ``body`` to, its signature)."""
    target = signed_json_url(url, body)
    return target, twilio_signature(auth_token, target)


def url_with_query(url: str, params: Params) -> str:
    """``url`` with ``params`` appended to its query string (a GET webhook's exact URL)."""
    pairs = [(key, value) for key in params for value in _values(params[key])]
    if not pairs:
        return url
    scheme, netloc, path, query, fragment = urlsplit(url)
    extra = urlencode(pairs)
    return urlunsplit((scheme, netloc, path, f"{query}&{extra}" if query else extra, fragment))
