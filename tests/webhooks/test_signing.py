"""X-Twilio-Signature: the published vector, and the official validator accepts what we sign."""

from __future__ import annotations

import json

from twilio.request_validator import RequestValidator

from message_exchange.webhooks.signing import json_signature, twilio_signature, url_with_query

VECTOR_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
VECTOR_TOKEN = "12345"
VECTOR_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+12349013030",
    "Digits": "1234",
    "From": "+12349013030",
    "To": "+18005551212",
}
TOKEN = "0123456789abcdef0123456789abcdef"


class MultiDict:
    """The shape of Flask's MultiDict that RequestValidator reads repeated parameters from."""

    def __init__(self, items: list[tuple[str, str]]) -> None:
        self.items = items

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(dict.fromkeys(k for k, _ in self.items))

    def __bool__(self) -> bool:
        return bool(self.items)

    def getall(self, name: str) -> list[str]:
        return [v for k, v in self.items if k == name]


def test_published_vector() -> None:
    assert twilio_signature(VECTOR_TOKEN, VECTOR_URL, VECTOR_PARAMS) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_signature_depends_on_token_url_and_every_param() -> None:
    base = twilio_signature(VECTOR_TOKEN, VECTOR_URL, VECTOR_PARAMS)
    assert twilio_signature("54321", VECTOR_URL, VECTOR_PARAMS) != base
    assert twilio_signature(VECTOR_TOKEN, VECTOR_URL + "&x=1", VECTOR_PARAMS) != base
    assert twilio_signature(VECTOR_TOKEN, VECTOR_URL, {**VECTOR_PARAMS, "Digits": "1235"}) != base
    # Order of the given params does not matter: they are sorted.
    assert twilio_signature(VECTOR_TOKEN, VECTOR_URL, dict(reversed(VECTOR_PARAMS.items()))) == base


def test_validator_accepts_form_post() -> None:
    params = {"MessageSid": "SM" + "a" * 32, "MessageStatus": "delivered", "Body": "héllo & <b>", "To": "+15550001"}
    url = "https://hooks.example.com/status?tenant=7"
    signature = twilio_signature(TOKEN, url, params)
    validator = RequestValidator(TOKEN)
    assert validator.validate(url, params, signature)
    assert not validator.validate(url, {**params, "MessageStatus": "failed"}, signature)
    assert not RequestValidator("other-token").validate(url, params, signature)


def test_validator_accepts_repeated_params() -> None:
    url = "https://hooks.example.com/sms"
    items = [("MediaUrl", "https://m/b.png"), ("MediaUrl", "https://m/a.png"), ("Body", "x")]
    signature = twilio_signature(TOKEN, url, {"MediaUrl": ["https://m/b.png", "https://m/a.png"], "Body": "x"})
    assert RequestValidator(TOKEN).validate(url, MultiDict(items), signature)


def test_validator_accepts_get_with_params_in_query() -> None:
    params = {"MessageSid": "SM" + "b" * 32, "MessageStatus": "sent", "Body": "a b+c&d=é"}
    url = url_with_query("https://hooks.example.com/status?x=1", params)
    assert url.startswith("https://hooks.example.com/status?x=1&MessageSid=")
    signature = twilio_signature(TOKEN, url)
    assert RequestValidator(TOKEN).validate(url, {}, signature)


def test_validator_accepts_json_body_with_body_sha256() -> None:
    body = json.dumps({"deliveryInfoNotification": {"status": "delivered"}}).encode()
    url, signature = json_signature(TOKEN, "https://hooks.example.com/notify?a=1", body)
    assert "bodySHA256=" in url
    validator = RequestValidator(TOKEN)
    assert validator.validate(url, body.decode(), signature)
    assert not validator.validate(url, body.decode().replace("delivered", "failed"), signature)
