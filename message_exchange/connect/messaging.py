"""``POST /resources/v1/messaging``: validate a whole request (:mod:`.request`), then accept
every destination in the caller's transaction with one multi-row insert per table. Never commits.

Each destination msisdn becomes an ordinary message (``created_via`` ``connect``, or
``connect-notify`` when its request has a notifyurl; status
``queued``) with a ``message.dispatch`` job — or a ``connect.dispatch`` job, which drops it
as expired first, when the request has an ``expiry`` — and a ``connect_transactions`` row
linking its ``transid`` to the message and the request's correlationid / callbackData /
notifyurl. One bad entry rejects the whole request before anything is written. The request's
``type`` (2 flash, 3 binary, 4 unicode) and ``extras.dlt_templateid`` become each message's
``options`` (:func:`submit_options`), which dispatch hands the carrier.

Contact policy runs at acceptance: a destination that sent STOP to the sender (the inbound
opt-out table, always), without opt-in when ``channelCheckConsent`` is set, or over the
group's cap when ``channelApplyFrequencyCap`` is set is stored ``failed`` (never sent) and
notified with its own code (7109 / 7701 / 7702); the answer is still ``1001`` for it, as the
platform answers before it applies policy.
"""

from __future__ import annotations

import os
import re
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from message_exchange.carriers.base import SubmitOptions
from message_exchange.connect import codes
from message_exchange.connect.codes import ConnectError, missing
from message_exchange.connect.models import ConnectService
from message_exchange.connect.notify import CONNECT_DISPATCH_JOB, CREATED_VIA, CREATED_VIA_NOTIFY, NOTIFY_JOB
from message_exchange.connect.repository import ConnectRepository
from message_exchange.connect.request import MAX_TEXT, Request, parse_request
from message_exchange.connect.service import LINK_PREFIX, PLACEHOLDER, short_url
from message_exchange.db.base import utcnow
from message_exchange.encoding import count_segments
from message_exchange.jobs.service import enqueue_many
from message_exchange.messages.models import SID_PREFIX
from message_exchange.messages.service import enqueue_dispatch
from message_exchange.messages.status import MessageStatus

__all__ = ["Accepted", "accept", "parse_request", "preflight", "send"]


@dataclass(frozen=True, slots=True)
class Accepted:
    transid: str
    correlationid: str | None
    msisdn: str
    message_sid: str


class _Renderer:
    """Final texts: ``{{name}}`` parameters, then ``{{link_<id>}}`` short URLs; cached when equal."""

    def __init__(self, request: Request, base_url: str) -> None:
        self.request = request
        self.base_url = base_url
        self._cache: dict[tuple[tuple[str, str], ...], str] = {}
        # Only the smart links the text uses get short links (one per destination); a link
        # listed in ``smartlinks`` but absent from the text makes none.
        used = {name[len(LINK_PREFIX) :] for name in PLACEHOLDER.findall(request.text) if name.startswith(LINK_PREFIX)}
        self.used_links = [link_id for link_id in request.links if link_id in used]
        self.has_links = bool(self.used_links) and request.sms_type != "3"

    def substitute(self, params: Mapping[str, str]) -> str:
        key = tuple(sorted(params.items()))
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        merged = {**self.request.parameters, **params}

        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith(LINK_PREFIX):
                return match.group(0)
            if name not in merged:
                where = f" for template {self.request.template_id}" if self.request.template_id else ""
                raise missing(name, where)
            return merged[name]

        text = PLACEHOLDER.sub(value, self.request.text) if self.request.sms_type != "3" else self.request.text
        self._cache[key] = text
        return text

    def links(self, text: str, codes_by_link: dict[str, str]) -> str:
        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            link_id = name[len(LINK_PREFIX) :] if name.startswith(LINK_PREFIX) else None
            if link_id is None or link_id not in codes_by_link:
                return match.group(0)
            return short_url(self.base_url, codes_by_link[link_id])

        return PLACEHOLDER.sub(value, text)


async def _blocked(session: AsyncSession, service: ConnectService, request: Request, now: datetime) -> dict[int, int]:
    """Destination index → the error code that keeps it from being sent (contact policy)."""
    repo = ConnectRepository(session)
    msisdns = sorted({d.msisdn for d in request.destinations})
    blocked: dict[int, int] = {}
    stopped = await repo.opted_out(request.sender, msisdns)
    for index, dest in enumerate(request.destinations):
        if dest.msisdn in stopped:
            blocked[index] = codes.OPTED_OUT
    policy = request.policy
    if policy is None:
        return blocked
    if policy.check_consent:
        consents = await repo.latest_consents(service.account_sid, policy.group_id, "sms", msisdns)
        for index, dest in enumerate(request.destinations):
            if index not in blocked and consents.get(dest.msisdn) != "opt_in":
                blocked[index] = codes.NO_CONSENT
    if policy.apply_cap:
        # Locked: two requests capped by one group count one after the other, never both
        # under the cap from the same reading.
        group = await repo.policy_group(policy.group_id, for_update=True)
        if group is not None and group.cap_count is not None and group.cap_period_seconds is not None:
            since = now - timedelta(seconds=group.cap_period_seconds)
            used = await repo.cap_usage(group.id, "sms", msisdns, since)
            for index, dest in enumerate(request.destinations):
                if index in blocked:
                    continue
                if used.get(dest.msisdn, 0) >= group.cap_count:
                    blocked[index] = codes.CAP_EXCEEDED
                else:
                    used[dest.msisdn] = used.get(dest.msisdn, 0) + 1
    return blocked


def _segments(text: str, sms_type: str, cache: dict[str, int]) -> int:
    if sms_type == "3":
        octets = len(text) // 2
        return 1 if octets <= 140 else -(-octets // 134)
    count = cache.get(text)
    if count is None:
        # Type 4 (unicode) is sent UCS-2 even when every character is GSM-7.
        count = cache[text] = count_segments(text, force_ucs2=sms_type == "4") if text else 1
    return count


def submit_options(request: Request) -> dict[str, Any] | None:
    """What the carrier must be told beyond the text (``messages.options``): type 2/3/4, DLT id."""
    dlt = request.extras.get("dlt_templateid")
    return SubmitOptions(
        flash=request.sms_type == "2",
        binary=request.sms_type == "3",
        encoding="ucs2" if request.sms_type == "4" else None,
        dlt_template_id=str(dlt) if dlt not in (None, "") else None,
    ).to_stored()


async def accept(
    session: AsyncSession, service: ConnectService, request: Request, *, base_url: str, batch_id: str | None = None
) -> list[Accepted]:
    """Store every destination of ``request`` (messages, links, jobs) in the caller's transaction."""
    now = utcnow()
    batch_id = batch_id or str(uuid.uuid4())
    renderer = _Renderer(request, base_url)
    blocked = await _blocked(session, service, request, now)
    messages: list[dict[str, Any]] = []
    transactions: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    dispatch: list[dict[str, Any]] = []
    notify: list[dict[str, Any]] = []
    accepted: list[Accepted] = []
    segments: dict[str, int] = {}
    # One read of the OS's random source for every id of the request: uuid4() per id was a
    # measurable share of a 1,000-destination request.
    entropy = os.urandom(32 * len(request.destinations))
    created_via = CREATED_VIA_NOTIFY if request.notify_url else CREATED_VIA
    options = submit_options(request)
    for index, dest in enumerate(request.destinations):
        transid = str(uuid.UUID(bytes=entropy[32 * index : 32 * index + 16], version=4))
        sid = SID_PREFIX + entropy[32 * index + 16 : 32 * index + 32].hex()
        text = renderer.substitute(dest.parameters)
        if renderer.has_links:
            # 64 random bits (11 characters): no code collides in practice even at 10^8 links.
            codes_by_link = {link_id: secrets.token_urlsafe(8) for link_id in renderer.used_links}
            text = renderer.links(text, codes_by_link)
            for link_id, code in codes_by_link.items():
                links.append(
                    {
                        "code": code,
                        "service_sid": service.sid,
                        "link_id": link_id,
                        "transid": transid,
                        "destination": dest.msisdn,
                        "target_url": request.link_targets[link_id],
                        "expires_at": now + timedelta(days=request.links[link_id]),
                        "clicks": 0,
                        "first_clicked_at": None,
                        "last_clicked_at": None,
                        "created_at": now,
                    }
                )
        if len(text) > MAX_TEXT and request.sms_type != "3":  # a binary body's limit is checked as hex
            raise ConnectError(
                codes.TOO_LONG, f"Message too long: {len(text)} characters for {dest.msisdn}", param="text"
            )
        error = blocked.get(index)
        notice = codes.notice_for(MessageStatus.FAILED, error) if error is not None else None
        messages.append(
            {
                "sid": sid,
                "account_sid": service.account_sid,
                "direction": "outbound-api",
                "channel": "sms",
                "from_address": request.sender,
                "to_address": dest.msisdn,
                "body": text,
                "media": [],
                "num_segments": _segments(text, request.sms_type, segments),
                "status": MessageStatus.QUEUED.value if error is None else MessageStatus.FAILED.value,
                "error_code": error,
                "error_message": notice.description if notice else None,
                "price": None,
                "price_unit": "USD",
                "status_callback": None,
                "status_callback_method": "POST",
                "api_version": "v1",
                "created_via": created_via,
                "carrier": None,
                "carrier_message_id": None,
                "date_created": now,
                "date_updated": now,
                "date_sent": None,
                "options": options,
            }
        )
        transactions.append(
            {
                "transid": transid,
                "message_sid": sid,
                "service_sid": service.sid,
                "account_sid": service.account_sid,
                "batch_id": batch_id,
                "channel": "sms",
                "destination": dest.msisdn,
                "sms_type": request.sms_type,
                "extras": request.extras,
                "correlationid": dest.correlationid,
                "callback_data": request.callback_data,
                "notify_url": request.notify_url,
                "expires_at": request.expires_at,
                "policy_group": request.policy.group_id if request.policy else None,
                "counted": error is None,
                "created_at": now,
            }
        )
        if notice is None:
            dispatch.append({"sid": sid})
        else:
            events.append(
                {
                    "message_sid": sid,
                    "code": notice.code,
                    "description": notice.description,
                    "delivery_status": notice.delivery_status,
                    "occurred_at": now,
                    "notified": request.notify_url is None,
                }
            )
            if request.notify_url:
                notify.append({"message_sid": sid})
        accepted.append(Accepted(transid, dest.correlationid, dest.msisdn, sid))
    await ConnectRepository(session).accept(messages, transactions, links, events)
    if request.expires_at is None:
        await enqueue_dispatch(session, [job["sid"] for job in dispatch])  # shared: a few jobs per request
    else:
        await enqueue_many(session, CONNECT_DISPATCH_JOB, dispatch)  # one each: each checks its expiry
    await enqueue_many(session, NOTIFY_JOB, notify)
    return accepted


def preflight(request: Request) -> None:
    """Raise what accepting ``request`` would (missing parameters, too long) without writing."""
    if request.sms_type == "3":
        return  # one hex body for all, checked when parsed
    renderer = _Renderer(request, "")
    for dest in request.destinations:
        if len(renderer.substitute(dest.parameters)) > MAX_TEXT:
            raise ConnectError(codes.TOO_LONG, f"Message too long for {dest.msisdn}", param="text")


async def send(
    session: AsyncSession, service: ConnectService, body: Any, *, base_url: str, batch_id: str | None = None
) -> list[Accepted]:
    """Validate ``body`` and accept it: all destinations, or (an error raised) none."""
    request = await parse_request(session, service, body)
    return await accept(session, service, request, base_url=base_url, batch_id=batch_id)
