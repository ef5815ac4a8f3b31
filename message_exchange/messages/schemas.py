"""Request bodies and the message resource of the Messages API."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from message_exchange.core.dates import rfc2822
from message_exchange.messages.models import MessageView
from message_exchange.messages.service import TWILIO_API_VERSION


class SendMessageParams(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    from_: str | None = Field(default=None, alias="from", description="Sender channel URI, e.g. sms:+15553334444")
    to: str | None = Field(default=None, description="Recipient channel URI, e.g. sms:+15553334444")
    body: str | None = Field(default=None, description="Text, up to 1,600 characters")
    media_list: str | None = Field(
        default=None, description='JSON array: [{"url": "https://…", "content_type": "image/jpeg"}]'
    )
    status_callback: str | None = Field(default=None, description="URL notified of each status change")
    status_callback_method: str | None = Field(default=None, description="GET (default) or POST")


def message_uri(prefix: str, message: MessageView) -> str:
    return f"{prefix}/Accounts/{message.account_sid}/Messages/{message.sid}.json"


def message_resource(message: MessageView, *, prefix: str) -> dict[str, Any]:
    """The omnichannel message: addresses as channel URIs."""
    date_sent = message.date_sent.astimezone(UTC) if message.date_sent else None
    return {
        "sid": message.sid,
        "date_created": rfc2822(message.date_created),
        "date_updated": rfc2822(message.date_updated),
        # The document's example shows date_sent in ISO-8601 with milliseconds.
        "date_sent": f"{date_sent:%Y-%m-%dT%H:%M:%S}.{date_sent.microsecond // 1000:03d}Z" if date_sent else None,
        "account_sid": message.account_sid,
        "from": f"{message.channel}:{message.from_address}",
        "to": f"{message.channel}:{message.to_address}",
        "body": message.body,
        "status": message.status,
        "direction": message.direction,
        "num_segments": message.num_segments,
        "num_media": len(message.media),
        "price": message.price,
        "price_unit": message.price_unit,
        "error_code": message.error_code,
        "error_message": message.error_message,
        "api_version": message.api_version,
        "media_list": [{"url": m["url"], "content-type": m.get("content_type")} for m in message.media],
        "uri": message_uri(prefix, message),
    }


TWILIO_BASE = "/2010-04-01"
SMS_BASE = "/restcomm/2012-04-24"


def twilio_message_uri(message: MessageView) -> str:
    return f"{TWILIO_BASE}/Accounts/{message.account_sid}/Messages/{message.sid}.json"


def twilio_resource(message: MessageView) -> dict[str, Any]:
    """Twilio's Message resource (what the official ``twilio`` client parses)."""
    return {
        "account_sid": message.account_sid,
        "api_version": TWILIO_API_VERSION,
        "body": message.body,
        "date_created": rfc2822(message.date_created),
        "date_sent": rfc2822(message.date_sent),
        "date_updated": rfc2822(message.date_updated),
        "direction": "inbound" if message.direction in ("inbound", "incoming") else message.direction,
        "error_code": message.error_code,
        "error_message": message.error_message,
        "from": message.from_address,
        "messaging_service_sid": None,
        "num_media": str(len(message.media)),
        "num_segments": str(message.num_segments),
        "price": message.price,
        "price_unit": message.price_unit,
        "sid": message.sid,
        "status": message.status,
        "to": message.to_address,
        "uri": twilio_message_uri(message),
    }


def sms_resource(message: MessageView) -> dict[str, Any]:
    """Restcomm's classic SMS message: plain numbers, RFC 2822 dates."""
    return {
        "sid": message.sid,
        "date_created": rfc2822(message.date_created),
        "date_updated": rfc2822(message.date_updated),
        "date_sent": rfc2822(message.date_sent),
        "account_sid": message.account_sid,
        "from": message.from_address,
        "to": message.to_address,
        "body": message.body,
        "status": message.status,
        "direction": message.direction,
        "price": message.price,
        "price_unit": message.price_unit,
        "api_version": message.api_version,
        "uri": f"{SMS_BASE}/Accounts/{message.account_sid}/SMS/Messages/{message.sid}.json",
    }
