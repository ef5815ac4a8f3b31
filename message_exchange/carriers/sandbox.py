"""The sandbox carrier: the default route, a network that behaves like a real one.

It accepts every well-formed message and, after ``MX_SANDBOX_DELIVERY_DELAY_SECONDS``,
reports a delivery receipt through the same path a real carrier's receipt takes. Magic
destination numbers (after Twilio's test numbers) produce the failures a real network does:

=================  ==========================================  =====================
to                 what happens                                status / error_code
=================  ==========================================  =====================
+15005550001       rejected at submit: invalid number          failed / 21211
+15005550002       accepted, handset unreachable               undelivered / 30003
+15005550003       rejected at submit: carrier violation       failed / 30007
+15005550004       accepted, unknown destination               undelivered / 30005
anything else      accepted and delivered                      delivered
=================  ==========================================  =====================

A message to a number the platform owns is delivered (receipt) and, after the same delay,
arrives as an inbound message through the inbound router (carrier ``sandbox``, provider id
= the submit's carrier message id, so a resubmission is deduplicated there).

The submission and its receipt job commit in the dispatch transaction, so a crash can
neither lose the receipt nor deliver twice.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from message_exchange.carriers.base import CarrierRejected, OutboundMessage, SubmitResult
from message_exchange.config import Settings
from message_exchange.inbound.service import InboundMedia, InboundMessage, receive
from message_exchange.jobs.registry import JobContext, job_handler
from message_exchange.jobs.service import enqueue
from message_exchange.messages.service import StatusEvent, apply_carrier_report
from message_exchange.messages.status import MessageStatus
from message_exchange.numbers.service import find_by_phone_number

NAME = "sandbox"
RECEIPT_JOB = "sandbox.receipt"
LOOPBACK_JOB = "sandbox.loopback"

REJECTED_AT_SUBMIT: dict[str, tuple[int, str]] = {
    "+15005550001": (21211, "Invalid 'To' phone number"),
    "+15005550003": (30007, "Message filtered by the carrier"),
}
UNDELIVERED: dict[str, tuple[int, str]] = {
    "+15005550002": (30003, "Unreachable destination handset"),
    "+15005550004": (30005, "Unknown destination handset"),
}


class SandboxCarrier:
    """A :class:`~message_exchange.carriers.base.Carrier` whose network lives in our database."""

    name = NAME

    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self._session = session
        self._settings = settings

    async def submit(self, message: OutboundMessage) -> SubmitResult:
        if message.to_address in REJECTED_AT_SUBMIT:
            code, text = REJECTED_AT_SUBMIT[message.to_address]
            raise CarrierRejected(text, code=code)
        # The message sid is the idempotency key: the same message always gets the same id.
        carrier_id = "SBX" + hashlib.sha256(message.sid.encode()).hexdigest()[:29]
        outcome: dict[str, Any] = {"carrier_message_id": carrier_id, "status": "delivered"}
        if message.to_address in UNDELIVERED:
            code, text = UNDELIVERED[message.to_address]
            outcome.update(status="undelivered", error_code=code, error_message=text)
        await enqueue(self._session, RECEIPT_JOB, outcome, delay=self._settings.sandbox_delivery_delay_seconds)
        if message.to_address not in UNDELIVERED and await find_by_phone_number(self._session, message.to_address):
            loopback = {
                "carrier_message_id": carrier_id,
                "channel": message.channel,
                "from": message.from_address,
                "to": message.to_address,
                "body": message.body,
                "media": [{"url": item.url, "content_type": item.content_type} for item in message.media],
            }
            await enqueue(self._session, LOOPBACK_JOB, loopback, delay=self._settings.sandbox_delivery_delay_seconds)
        return SubmitResult(carrier_message_id=carrier_id)


@job_handler(RECEIPT_JOB)
async def deliver_receipt(ctx: JobContext, payload: dict[str, Any]) -> None:
    event = StatusEvent(
        status=MessageStatus(payload["status"]),
        error_code=payload.get("error_code"),
        error_message=payload.get("error_message"),
    )
    await apply_carrier_report(ctx.session, NAME, payload["carrier_message_id"], event)


@job_handler(LOOPBACK_JOB)
async def deliver_loopback(ctx: JobContext, payload: dict[str, Any]) -> None:
    """A message to one of our own numbers arrives as inbound."""
    await receive(
        ctx.session,
        InboundMessage(
            carrier=NAME,
            carrier_message_id=payload["carrier_message_id"],
            from_address=payload["from"],
            to_address=payload["to"],
            body=payload.get("body") or "",
            media=tuple(InboundMedia(item["url"], item.get("content_type")) for item in payload.get("media") or ()),
            channel=payload.get("channel") or "sms",
        ),
        settings=ctx.settings,
    )
