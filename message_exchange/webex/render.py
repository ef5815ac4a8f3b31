"""The Webex exchange's JSON: ``{"data", "code", "message"}``, its pages and resources.

Timestamps are ``2019-09-10 10:07:32.0`` as the search examples print them (the create
examples show Java's ``Tue Sep 10 10:07:32 UTC 2019``; one form is served everywhere, the
one the design names). Phone numbers print as digits without ``+`` (``12012852659``), as
every example in the document does; filters take either spelling.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from message_exchange.core.dates import webex_timestamp
from message_exchange.core.paging import PageRequest
from message_exchange.core.rendering import JSONResponse
from message_exchange.exchange.models import ExchangeMessage
from message_exchange.webex.models import Enterprise, Mapping


def ok(data: Any) -> JSONResponse:
    return JSONResponse({"data": data, "code": 200, "message": "OK"})


def page(request: PageRequest, total: int, items: Sequence[dict[str, Any]]) -> JSONResponse:
    return ok(
        {
            "result": list(items),
            "pageSize": request.page_size,
            "total": total,
            "page": request.page,
            "numPages": -(-total // request.page_size),
            "start": request.offset,
            "end": request.offset + len(items),
        }
    )


def number(address: str) -> str:
    return address[1:] if address.startswith("+") else address


def enterprise(item: Enterprise, *, mappings: int, email: str) -> dict[str, Any]:
    return {
        "name": item.name,
        "sid": item.sid,
        "mappingsCount": mappings,
        "status": item.status,
        "dateUpdated": webex_timestamp(item.date_updated),
        "dateCreated": webex_timestamp(item.date_created),
        "accountSid": item.account_sid,
        "accountEmail": email,
    }


def mapping(item: Mapping, *, enterprise_name: str, email: str) -> dict[str, Any]:
    return {
        "webexAddress": item.webex_address,
        "externalAddress": number(item.external_address),
        "name": item.name,
        "dateUpdated": webex_timestamp(item.date_updated),
        "dateCreated": webex_timestamp(item.date_created),
        "accountSid": item.account_sid,
        "accountEmail": email,
        "enterpriseSid": item.enterprise_sid,
        "enterpriseName": enterprise_name,
        "sid": item.sid,
    }


def record(item: ExchangeMessage) -> dict[str, Any]:
    return {
        "sid": item.sid,
        "accountSid": item.account_sid,
        "enterpriseSid": item.group_sid,
        "mappingSid": item.mapping_sid,
        "dateCreated": webex_timestamp(item.date_created),
        "dateUpdated": webex_timestamp(item.date_updated),
        "from": number(item.from_address),
        "to": number(item.to_address),
        "direction": item.direction,
        "type": item.type,
        "channelStatus": item.channel_status,
        "channelErrorCode": item.channel_error_code,
        "channelErrorMessage": item.channel_error_message,
    }
