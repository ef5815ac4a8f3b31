"""Sending, status changes and reading messages. Never commits; knows no HTTP.

A send stores the message ``queued`` and enqueues its dispatch job in the caller's
transaction, so an accepted message is never lost. Every status change goes through
:func:`record_status`: one row update and, when the message has a status callback, one
callback delivery — in the order the changes happened — then the status listeners other
domains registered (:func:`add_status_listener`: the Messaging API's notifications, the chat
exchanges' message records), in the same transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from message_exchange.accounts.models import Account
from message_exchange.accounts.repository import AccountRepository
from message_exchange.accounts.service import Caller, recheck_caller, visible_to
from message_exchange.core.errors import BadRequest, MXError, NotFound
from message_exchange.core.paging import PageRequest, ensure_page_exists
from message_exchange.core.sids import new_sid
from message_exchange.core.sorting import Sort
from message_exchange.db.base import utcnow
from message_exchange.encoding import BodyError, count_segments, validate_body
from message_exchange.inbound.optout import ensure_not_opted_out, unsubscribed
from message_exchange.inbound.repository import InboundRepository
from message_exchange.jobs.service import enqueue, enqueue_many
from message_exchange.messages.addresses import ChannelAddress
from message_exchange.messages.models import SID_PREFIX, AcceptedMessage, Message, MessageEvent, event_id
from message_exchange.messages.repository import SORTABLE, MessageFilter, MessageRepository
from message_exchange.messages.status import CALLBACK_STATUSES, MessageStatus, advance
from message_exchange.numbers.models import IncomingPhoneNumber
from message_exchange.numbers.repository import NumberRepository
from message_exchange.numbers.service import find_by_phone_number
from message_exchange.webhooks.service import enqueue_delivery

DISPATCH_JOB = "message.dispatch"
# A dispatch job's payload names one message ("sid") or, when one transaction accepted many,
# up to MESSAGES_PER_DISPATCH_JOB of them ("sids"): see "Shared jobs" in messages.dispatch.
DISPATCH_SID = "sid"
DISPATCH_SIDS = "sids"
MESSAGES_PER_DISPATCH_JOB = 200


def dispatch_payloads(sids: Sequence[str]) -> list[dict[str, Any]]:
    """The payloads of the dispatch jobs of messages accepted together."""
    if len(sids) == 1:
        return [{DISPATCH_SID: sids[0]}]
    step = MESSAGES_PER_DISPATCH_JOB
    return [{DISPATCH_SIDS: list(sids[n : n + step])} for n in range(0, len(sids), step)]


async def enqueue_dispatch(session: AsyncSession, sids: Sequence[str]) -> None:
    """The dispatch jobs of messages accepted together, in the caller's transaction (shared)."""
    payloads = dispatch_payloads(sids)
    await enqueue_many(session, DISPATCH_JOB, payloads, items_of=lambda payload: len(dispatch_sids(payload)))


def dispatch_sids(payload: dict[str, Any]) -> list[str]:
    """The messages a dispatch job names (either payload form)."""
    many = payload.get(DISPATCH_SIDS)
    if isinstance(many, list):
        return [str(sid) for sid in many]
    one = payload.get(DISPATCH_SID)
    return [one] if isinstance(one, str) else []


API_VERSION = "2012-04-24"
TWILIO_API_VERSION = "2010-04-01"
MAX_MEDIA = 10
MESSAGE_SORTS = tuple(SORTABLE)
DEFAULT_SORT = Sort(attribute="DateCreated", descending=False)

# Called with the message after each status change it made, inside the same transaction.
StatusListener = Callable[[AsyncSession, Message, MessageStatus], Awaitable[None]]
_STATUS_LISTENERS: list[StatusListener] = []


def add_status_listener(listener: StatusListener) -> None:
    """Let another domain follow status changes: ``listener(session, message, new_status)``.

    It runs in the transaction of the change, so what it writes (a job, an event row)
    commits exactly when the change does. Registered at import; registering twice is a no-op.
    """
    if listener not in _STATUS_LISTENERS:
        _STATUS_LISTENERS.append(listener)


@dataclass(frozen=True, slots=True)
class ParamNames:
    """How an API family spells the send parameters, so a 400 names what the client sent."""

    from_: str = "from"
    to: str = "to"
    body: str = "body"
    media: str = "media_list"
    callback: str = "status_callback"
    callback_method: str = "status_callback_method"
    # The Messages API document: "The default method is GET"; Twilio's default is POST.
    default_callback_method: str = "GET"


MESSAGES_API = ParamNames()
TWILIO_API = ParamNames("From", "To", "Body", "MediaUrl", "StatusCallback", "StatusCallbackMethod", "POST")


@dataclass(frozen=True, slots=True)
class Draft:
    """A validated message to send."""

    sender: ChannelAddress
    recipient: ChannelAddress
    body: str
    media: list[dict[str, Any]]
    status_callback: str | None
    status_callback_method: str
    created_via: str


@dataclass(frozen=True, slots=True)
class MessageQuery:
    page: PageRequest
    flt: MessageFilter
    sort: Sort = DEFAULT_SORT


@dataclass(frozen=True, slots=True)
class StatusEvent:
    status: MessageStatus
    error_code: int | None = None
    error_message: str | None = None
    carrier: str | None = None  # set with the submit that made the message SENT
    carrier_message_id: str | None = None


def _absolute_url(value: str, *, param: str) -> str:
    text = value.strip()
    if not text.startswith(("http://", "https://")) or len(text) > 2048 or " " in text:
        raise BadRequest(f"{param} must be an absolute http(s) URL", param=param, code=21609)
    return text


def parse_media_list(raw: str | None, *, param: str = "media_list") -> list[dict[str, Any]]:
    """``[{"url": …, "content_type"|"content-type": …}]`` → normalised list; bad → 400."""
    if raw is None or not raw.strip():
        return []
    problem = f"{param} must be a JSON array of {{url, content_type}}"
    try:
        items = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest(problem, param=param) from None
    if not isinstance(items, list):
        raise BadRequest(problem, param=param)
    media: list[dict[str, Any]] = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("url"), str):
            raise BadRequest(f"each {param} item needs a url", param=param)
        content_type = item.get("content_type", item.get("content-type"))
        if content_type is not None and not isinstance(content_type, str):
            raise BadRequest(f"{param} content_type must be a string", param=param)
        media.append({"url": item["url"], "content_type": content_type})
    return media


def build_draft(
    *,
    sender: ChannelAddress,
    recipient: ChannelAddress,
    body: str | None,
    media: list[dict[str, Any]],
    status_callback: str | None,
    status_callback_method: str | None,
    created_via: str,
    names: ParamNames,
) -> Draft:
    """Check everything but the addresses (parsed by the caller, in its family's syntax)."""
    if sender.channel != recipient.channel:
        raise BadRequest(f"{names.from_} and {names.to} must use the same channel", param=names.to)
    if len(media) > MAX_MEDIA:
        raise BadRequest(f"{names.media} takes at most {MAX_MEDIA} items", param=names.media, code=21623)
    media = [{**item, "url": _absolute_url(item["url"], param=names.media)} for item in media]
    text = body or ""
    if not text and not media:
        raise BadRequest(f"A message needs a {names.body} or media", param=names.body, code=21602)
    try:
        validate_body(text)
    except BodyError as exc:
        raise BadRequest(f"{names.body}: {exc}", param=names.body, code=exc.code) from None
    method = (status_callback_method or names.default_callback_method).strip().upper()
    if method not in ("GET", "POST"):
        raise BadRequest(f"{names.callback_method} must be GET or POST", param=names.callback_method)
    return Draft(
        sender=sender,
        recipient=recipient,
        body=text,
        media=media,
        status_callback=_absolute_url(status_callback, param=names.callback) if status_callback else None,
        status_callback_method=method,
        created_via=created_via,
    )


def sender_problem(
    number: IncomingPhoneNumber | None, account_sid: str, draft: Draft, names: ParamNames
) -> BadRequest | None:
    """21606 unless a numeric sender is a number of ``account_sid`` able to use the channel."""
    if draft.sender.alphanumeric:
        return None
    capable = number is not None and (number.mms_capable if draft.sender.channel == "mms" else number.sms_capable)
    if number is None or number.account_sid != account_sid or not capable:
        return BadRequest(
            f"{names.from_} {draft.sender.address} is not a {draft.sender.channel.upper()}-capable number "
            f"of account {account_sid}",
            param=names.from_,
            code=21606,
        )
    return None


async def check_sender(session: AsyncSession, account: Account, draft: Draft, names: ParamNames) -> None:
    """A numeric sender must be a number of ``account`` able to use the channel (21606)."""
    if draft.sender.alphanumeric:
        return
    problem = sender_problem(await find_by_phone_number(session, draft.sender.address), account.sid, draft, names)
    if problem is not None:
        raise problem


def _message_values(account_sid: str, draft: Draft, now: datetime) -> dict[str, Any]:
    """The column values of a new ``queued`` message; every column, so a Core insert can take them."""
    return {
        "sid": new_sid(SID_PREFIX),
        "account_sid": account_sid,
        "direction": "outbound-api",
        "channel": draft.recipient.channel,
        "from_address": draft.sender.address,
        "to_address": draft.recipient.address,
        "body": draft.body,
        "media": draft.media,
        "num_segments": count_segments(draft.body) if draft.body else 1,
        "status": MessageStatus.QUEUED.value,
        "error_code": None,
        "error_message": None,
        "price": None,
        "price_unit": "USD",
        "status_callback": draft.status_callback,
        "status_callback_method": draft.status_callback_method,
        "api_version": TWILIO_API_VERSION if draft.created_via == "twilio" else API_VERSION,
        "created_via": draft.created_via,
        "carrier": None,
        "carrier_message_id": None,
        "date_created": now,
        "date_updated": now,
        "date_sent": None,
    }


async def send_message(session: AsyncSession, account: Account, draft: Draft, names: ParamNames) -> Message:
    """Store ``draft`` as a ``queued`` message and enqueue its dispatch — all or nothing."""
    await check_sender(session, account, draft, names)
    await ensure_not_opted_out(session, draft.sender.address, draft.recipient.address, param=names.to)
    message = Message(**_message_values(account.sid, draft, utcnow()))
    await MessageRepository(session).add(message)
    await enqueue(session, DISPATCH_JOB, {"sid": message.sid})
    return message


@dataclass(frozen=True, slots=True)
class SendRequest:
    """One API send awaiting acceptance: who asked, for which account, what."""

    caller: Caller
    account_sid: str
    draft: Draft
    names: ParamNames


async def accept_sends(session: AsyncSession, requests: Sequence[SendRequest]) -> list[AcceptedMessage | MXError]:
    """Check and store many sends in the caller's transaction, with a few queries for all of them.

    The same rules as :func:`send_message` (plus re-checking each remembered caller and its
    access to the account): each request gets its message, or the error that refused it —
    a refused request writes nothing and does not affect the others.
    """
    sids = {sid for r in requests for sid in (r.caller.sid, r.account_sid, *r.caller.ancestor_sids)}
    rows = await AccountRepository(session).auth_rows(sids)
    numbers = await NumberRepository(session).by_phone_numbers(
        {r.draft.sender.address for r in requests if not r.draft.sender.alphanumeric}
    )
    blocked = await InboundRepository(session).opted_out_pairs(
        {(r.draft.recipient.address, r.draft.sender.address) for r in requests}
    )
    now = utcnow()
    outcomes: list[AcceptedMessage | MXError] = []
    values: list[dict[str, Any]] = []
    for r in requests:
        draft = r.draft
        problem: MXError | None = (
            recheck_caller(r.caller, rows)
            or visible_to(r.caller, r.account_sid, rows)
            or sender_problem(numbers.get(draft.sender.address), r.account_sid, draft, r.names)
        )
        if problem is None and (draft.recipient.address, draft.sender.address) in blocked:
            problem = unsubscribed(draft.sender.address, draft.recipient.address, param=r.names.to)
        if problem is not None:
            outcomes.append(problem)
            continue
        row = _message_values(r.account_sid, draft, now)
        values.append(row)
        outcomes.append(AcceptedMessage(**row))
    if values:
        await MessageRepository(session).insert_many(values)
        await enqueue_dispatch(session, [row["sid"] for row in values])
    return outcomes


def callback_params(message: Message) -> dict[str, str | list[str]]:
    """The status callback's parameters (the document's, plus Twilio's aliases)."""
    as_uri = message.created_via == "messages"
    sender = f"{message.channel}:{message.from_address}" if as_uri else message.from_address
    recipient = f"{message.channel}:{message.to_address}" if as_uri else message.to_address
    params: dict[str, str | list[str]] = {
        "MessageSid": message.sid,
        "SmsSid": message.sid,
        "MessageStatus": message.status,
        "SmsStatus": message.status,
        "AccountSid": message.account_sid,
        "From": sender,
        "To": recipient,
        "Body": message.body,
        "ApiVersion": message.api_version,
    }
    if message.error_code is not None:
        params["ErrorCode"] = str(message.error_code)
    if message.media:
        params["MediaUrl"] = [item["url"] for item in message.media]
        params["MediaType"] = [item.get("content_type") or "" for item in message.media]
    return params


async def record_status(session: AsyncSession, message: Message, event: StatusEvent) -> bool:
    """Apply ``event`` if it moves the message forward; enqueue its callback. False if ignored."""
    moved = advance(MessageStatus(message.status), event.status)
    if moved is None:
        return False
    now = utcnow()
    message.status = moved
    message.date_updated = now
    if event.error_code is not None:
        message.error_code = event.error_code
        message.error_message = event.error_message
    if event.carrier_message_id is not None:
        message.carrier = event.carrier
        message.carrier_message_id = event.carrier_message_id
    if moved is MessageStatus.SENT and message.date_sent is None:
        message.date_sent = now
    # No flush here: a batch of status changes goes out as one executemany UPDATE (and one
    # multi-row insert of their history) at the next flush instead of statements per change.
    MessageRepository(session).add_event(
        {
            "id": event_id(),
            "message_sid": message.sid,
            "status": moved.value,
            "error_code": event.error_code,
            "error_message": event.error_message,
            "carrier": event.carrier,
            "occurred_at": now,
        }
    )
    if message.status_callback and moved in CALLBACK_STATUSES:
        await enqueue_delivery(
            session,
            account_sid=message.account_sid,
            resource_sid=message.sid,
            purpose="status_callback",
            url=message.status_callback,
            method=message.status_callback_method,
            params=callback_params(message),
        )
    for listener in _STATUS_LISTENERS:
        await listener(session, message, moved)
    return True


async def message_history(session: AsyncSession, account: Account, sid: str) -> list[MessageEvent]:
    """Every status change of one of ``account``'s messages, oldest first (NotFound as :func:`get_message`)."""
    await get_message(session, account, sid)
    return await MessageRepository(session).events(sid)


async def get_message(session: AsyncSession, account: Account, sid: str) -> Message:
    message = await MessageRepository(session).get_for_account(account.sid, sid)
    if message is None:
        raise NotFound(f"Message {sid} not found", code=20404)
    return message


async def list_messages(session: AsyncSession, query: MessageQuery) -> tuple[int, list[Message]]:
    repo = MessageRepository(session)
    total = await repo.count(query.flt)
    ensure_page_exists(query.page, total)
    return total, await repo.page(query.flt, query.sort, offset=query.page.offset, limit=query.page.page_size)
