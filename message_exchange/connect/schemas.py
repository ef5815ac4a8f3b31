"""Admin API bodies and the JSON shapes of services, templates, links, groups and consents."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import orjson
from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from message_exchange.connect import codes
from message_exchange.connect.models import (
    ConnectConsent,
    ConnectLinkDefinition,
    ConnectPolicyGroup,
    ConnectService,
    ConnectShortLink,
    ConnectTemplate,
)
from message_exchange.connect.notify import timestamp
from message_exchange.core.errors import BadRequest

if TYPE_CHECKING:
    from message_exchange.connect.service import TransactionStatus

M = TypeVar("M", bound=BaseModel)


class ServiceBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=64)
    notify_url: str | None = Field(default=None, description="Default notifyurl of the service's requests.")
    sender_ids: list[str] | None = Field(
        default=None, description="Sender ids the service may use; the first is the default."
    )
    status: str | None = Field(default=None, description="active | disabled")


class TemplateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(description="Template text with {{name}} parameters (and {{link_<id>}} smart links).")


class LinkBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(description="Where the short links of this smart link redirect to.")


class GroupBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=64)
    cap_count: int | None = Field(default=None, description="Frequency cap: messages per period per destination.")
    cap_period_seconds: int | None = Field(default=None, description="Frequency cap period in seconds.")


class ConsentBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    msisdn: str
    consent: str = Field(description="opt_in | opt_out")
    channel: str = "sms"


async def json_body(request: Request, model: type[M]) -> M:
    """A JSON object body validated into ``model``; anything else → 400 naming the field."""
    raw = await request.body() or b"{}"
    if b"\\u0000" in raw:  # valid JSON, but no database column can store a NUL
        raise BadRequest("NUL characters are not allowed")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest("Request body must be a JSON object") from None
    if not isinstance(data, dict):
        raise BadRequest("Request body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(p) for p in first.get("loc", ())) or None
        raise BadRequest(f"{name}: {first.get('msg')}" if name else str(first.get("msg")), param=name) from None


def service_resource(service: ConnectService, key: str | None = None) -> dict[str, Any]:
    """A service; its key only when just created or rotated (otherwise masked)."""
    return {
        "sid": service.sid,
        "account_sid": service.account_sid,
        "name": service.name,
        "key": key if key is not None else f"****{service.key_hint}",
        "notify_url": service.notify_url,
        "sender_ids": list(service.sender_ids),
        "status": service.status,
        "date_created": service.date_created,
        "date_updated": service.date_updated,
    }


def template_resource(template: ConnectTemplate) -> dict[str, Any]:
    return {
        "template_id": template.template_id,
        "text": template.text,
        "parameters": list(template.parameters),
        "date_updated": template.date_updated,
    }


def link_definition_resource(link: ConnectLinkDefinition, totals: tuple[int, int] = (0, 0)) -> dict[str, Any]:
    return {"link_id": link.link_id, "url": link.target_url, "short_links": totals[0], "clicks": totals[1]}


def short_link_resource(link: ConnectShortLink, url: str) -> dict[str, Any]:
    return {
        "code": link.code,
        "url": url,
        "link_id": link.link_id,
        "transid": link.transid,
        "destination": link.destination,
        "target_url": link.target_url,
        "expires_at": link.expires_at,
        "clicks": link.clicks,
        "first_clicked_at": link.first_clicked_at,
        "last_clicked_at": link.last_clicked_at,
    }


def transaction_status_resource(found: TransactionStatus, short_url: Callable[[str], str]) -> dict[str, Any]:
    """``GET /resources/v1/messaging/status/{transid}``: one transaction as the platform shows it."""
    txn, message = found.transaction, found.message
    return {
        "transactionid": txn.transid,
        "api_version": "v1",
        "type": "outbound-api",
        "from": message.from_address,
        "to": message.to_address,
        "body": message.body,
        "channel": "SMS",
        "sms_type": txn.sms_type,  # channels.sms.type (1 text, 2 flash, 3 binary, 4 unicode)
        "extras": txn.extras,
        "status": "expired" if message.error_code == codes.EXPIRED else message.status,
        "message_sid": message.sid,
        "correlationid": txn.correlationid,
        "callbackData": txn.callback_data,
        "date_created": message.date_created,
        "last_updated": message.date_updated,
        "error_code": message.error_code,
        "error_message": message.error_message,
        "notifications": [
            {
                "code": e.code,
                "Description": e.description,
                "deliveryStatus": e.delivery_status,
                "timeStamp": timestamp(e.occurred_at),
            }
            for e in found.events
        ],
        "links": [short_link_resource(link, short_url(link.code)) for link in found.links],
    }


def group_resource(group: ConnectPolicyGroup) -> dict[str, Any]:
    return {
        "id": group.id,
        "name": group.name,
        "cap_count": group.cap_count,
        "cap_period_seconds": group.cap_period_seconds,
        "date_created": group.date_created,
    }


def consent_resource(record: ConnectConsent) -> dict[str, Any]:
    return {
        "msisdn": record.msisdn,
        "channel": record.channel,
        "consent": record.consent,
        "source": record.source,
        "group_id": record.group_id,
        "number": record.number,
        "recorded_at": record.recorded_at,
    }
