"""Request bodies and the Restcomm IncomingPhoneNumber resource."""

from __future__ import annotations

import re
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from message_exchange.core.dates import rfc2822
from message_exchange.numbers.models import API_VERSION, IncomingPhoneNumber

API_BASE = "/restcomm/2012-04-24"

Method = Literal["GET", "POST"]
_URL_MAX = 2048
# C0/C1 controls: PostgreSQL text cannot hold NUL, and none belongs in a name or a URL.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def check_text(value: str | None) -> str | None:
    """Refuse control characters (ValueError); ``None`` passes."""
    if value is not None and _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


def check_url(value: str | None) -> str | None:
    """An absolute ``http``/``https`` URL with a host, or ValueError. Empty stays empty."""
    if value is None or value == "":
        return value
    if len(value) > _URL_MAX:
        raise ValueError(f"must be at most {_URL_MAX} characters")
    try:
        parts = urlsplit(value)
        host = parts.hostname
        _ = parts.port  # raises ValueError on a bad port
    except ValueError:
        raise ValueError("must be an absolute http or https URL") from None
    if parts.scheme.lower() not in ("http", "https") or not host or _CONTROL.search(value) or " " in value:
        raise ValueError("must be an absolute http or https URL such as https://example.com/sms")
    return value


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


class _Params(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, populate_by_name=True)

    _names = field_validator("friendly_name", check_fields=False)(check_text)
    _urls = field_validator("sms_url", "sms_fallback_url", "status_callback", check_fields=False)(check_url)
    _methods = field_validator(
        "sms_method", "sms_fallback_method", "status_callback_method", mode="before", check_fields=False
    )(_upper)


class NumberCreate(_Params):
    phone_number: str = Field(
        alias="PhoneNumber", min_length=1, max_length=64, description="E.164 (e.g. +14155550100); unique system-wide."
    )
    friendly_name: str | None = Field(
        default=None, alias="FriendlyName", min_length=1, max_length=64, description="Default: the number."
    )
    sms_url: str | None = Field(default=None, alias="SmsUrl", description="Absolute http(s) URL for inbound SMS.")
    sms_method: Method = Field(default="POST", alias="SmsMethod")
    sms_fallback_url: str | None = Field(default=None, alias="SmsFallbackUrl")
    sms_fallback_method: Method = Field(default="POST", alias="SmsFallbackMethod")
    status_callback: str | None = Field(default=None, alias="StatusCallback")
    status_callback_method: Method = Field(default="POST", alias="StatusCallbackMethod")
    sms_capable: bool = Field(default=True, alias="SmsCapable")
    mms_capable: bool = Field(default=True, alias="MmsCapable")


class NumberUpdate(_Params):
    """Only the parameters given change; an empty URL clears it. The number itself is fixed."""

    friendly_name: str | None = Field(default=None, alias="FriendlyName", min_length=1, max_length=64)
    sms_url: str | None = Field(default=None, alias="SmsUrl", description="Empty clears it.")
    sms_method: Method | None = Field(default=None, alias="SmsMethod")
    sms_fallback_url: str | None = Field(default=None, alias="SmsFallbackUrl", description="Empty clears it.")
    sms_fallback_method: Method | None = Field(default=None, alias="SmsFallbackMethod")
    status_callback: str | None = Field(default=None, alias="StatusCallback", description="Empty clears it.")
    status_callback_method: Method | None = Field(default=None, alias="StatusCallbackMethod")
    sms_capable: bool | None = Field(default=None, alias="SmsCapable")
    mms_capable: bool | None = Field(default=None, alias="MmsCapable")


def number_uri(account_sid: str, sid: str) -> str:
    return f"{API_BASE}/Accounts/{account_sid}/IncomingPhoneNumbers/{sid}.json"


def number_resource(number: IncomingPhoneNumber) -> dict[str, Any]:
    """The Restcomm/Twilio IncomingPhoneNumber shape (voice is not offered: always false)."""
    return {
        "sid": number.sid,
        "account_sid": number.account_sid,
        "friendly_name": number.friendly_name,
        "phone_number": number.phone_number,
        "sms_url": number.sms_url,
        "sms_method": number.sms_method,
        "sms_fallback_url": number.sms_fallback_url,
        "sms_fallback_method": number.sms_fallback_method,
        "status_callback": number.status_callback,
        "status_callback_method": number.status_callback_method,
        "capabilities": {"voice": False, "sms": number.sms_capable, "mms": number.mms_capable},
        "api_version": API_VERSION,
        "date_created": rfc2822(number.date_created),
        "date_updated": rfc2822(number.date_updated),
        "uri": number_uri(number.account_sid, number.sid),
    }
