"""The Teams exchange's JSON: ``{"data", "code", "message"}``, its pages and resources.

Timestamps are ISO-8601 ``2019-10-10T13:13:48+0000`` everywhere (the document's stated
format; some of its examples print Java dates instead). Phone numbers print as digits
without ``+`` as the examples do; filters take either spelling.

Pages carry ``firstPageUri``, ``uri`` and, when those pages exist, ``previousPageUri`` /
``nextPageUri`` (the examples' spelling) together with ``previous_page_uri`` /
``next_page_uri`` (the tables' spelling) — relative paths repeating the filters.
``start`` / ``end`` are the offsets of the page's first and last records (``end`` = ``start``
on an empty page). Bot details show the client secret masked, under ``clientSecret`` (the table) and
``clientsecret`` (the examples).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from message_exchange.core.crypto import SecretBox, mask
from message_exchange.core.dates import iso8601_compact
from message_exchange.core.paging import PageRequest
from message_exchange.core.rendering import JSONResponse
from message_exchange.exchange.models import ExchangeMessage
from message_exchange.msteams.models import BotDetails, BusinessCustomer, TeamsMapping

_PAGING = ("page", "pageSize", "per_page")


def ok(data: Any) -> JSONResponse:
    return JSONResponse({"data": data, "code": 200, "message": "OK"})


def page(
    request: PageRequest,
    total: int,
    items: Sequence[dict[str, Any]],
    *,
    uri: str,
    query: Sequence[tuple[str, str]] = (),
) -> JSONResponse:
    filters = [(key, value) for key, value in query if key not in _PAGING]
    num_pages = -(-total // request.page_size)

    def link(number: int) -> str:
        return f"{uri}/?{urlencode([*filters, ('pageSize', str(request.page_size)), ('page', str(number))])}"

    body: dict[str, Any] = {
        "result": list(items),
        "pageSize": request.page_size,
        "total": total,
        "page": request.page,
        "numPages": num_pages,
        "start": request.offset,
        # The last record's offset, as three of the document's four examples show (4 records: 0…3).
        "end": request.offset + max(len(items) - 1, 0),
        "firstPageUri": link(0),
    }
    if request.page > 0:
        body["previousPageUri"] = body["previous_page_uri"] = link(request.page - 1)
    if request.page + 1 < num_pages:
        body["nextPageUri"] = body["next_page_uri"] = link(request.page + 1)
    body["uri"] = link(request.page)
    return ok(body)


def number(address: str) -> str:
    return address[1:] if address.startswith("+") else address


def enterprise(item: BusinessCustomer, *, email: str, admin_email: str) -> dict[str, Any]:
    return {
        "sid": item.sid,
        "dateUpdated": iso8601_compact(item.date_updated),
        "dateCreated": iso8601_compact(item.date_created),
        "accountSid": item.account_sid,
        "accountEmail": email,
        "uri": f"/msteams/enterprises/search/{item.sid}",
        "name": item.name,
        "status": item.status,
        "enterpriseAdminSid": item.admin_sid,
        "enterpriseAdminEmail": admin_email,
    }


def mapping(item: TeamsMapping, *, enterprise_name: str, email: str) -> dict[str, Any]:
    return {
        "sid": item.sid,
        "dateUpdated": iso8601_compact(item.date_updated),
        "dateCreated": iso8601_compact(item.date_created),
        "accountSid": item.account_sid,
        "accountEmail": email,
        "uri": f"/msteams/teams/mappings/search/{item.sid}",
        "microsoftAddress": item.microsoft_address,
        "externalAddress": number(item.external_address),
        "name": item.name,
        "enterpriseSid": item.enterprise_sid,
        "enterpriseName": enterprise_name,
    }


def bot(item: BotDetails, box: SecretBox, *, enterprise_name: str, email: str) -> dict[str, Any]:
    secret = mask(box.decrypt(item.client_secret_encrypted))
    return {
        "sid": item.sid,
        "enterpriseSid": item.enterprise_sid,
        "enterpriseName": enterprise_name,
        "accountSid": item.account_sid,
        "accountEmail": email,
        "dateCreated": iso8601_compact(item.date_created),
        "dateUpdated": iso8601_compact(item.date_updated),
        "applicationId": item.application_id,
        "tenantId": item.tenant_id,
        "clientSecret": secret,
        "clientsecret": secret,
        "botAppId": item.bot_app_id,
        "uri": f"/msteams/teamsbot/search/{item.sid}",
    }


def record(item: ExchangeMessage) -> dict[str, Any]:
    return {
        "sid": item.sid,
        "dateUpdated": iso8601_compact(item.date_updated),
        "dateCreated": iso8601_compact(item.date_created),
        "accountSid": item.account_sid,
        "enterpriseSid": item.group_sid,
        "from": number(item.from_address),
        "to": number(item.to_address),
        "direction": item.direction,
        "type": item.type,
        "uri": f"/msteams/messages/search/{item.sid}",
        "restcommMessageSid": item.message_sid,
        "channelStatus": item.channel_status.upper(),
        "channelErrorCode": item.channel_error_code,
        "channelErrorMessage": item.channel_error_message,
    }
