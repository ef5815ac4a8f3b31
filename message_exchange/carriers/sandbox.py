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

A message's submission options (flash, binary, UCS-2, DLT template id) are ignored: the
sandbox has no handset to show them on (a binary body stays its hex text).

The submission and its receipt job commit in the dispatch transaction, so a crash can
neither lose the receipt nor deliver twice. One job carries the receipts of every message
submitted together (a dispatch batch's), as a network reports them in bulk: a job per
receipt cost the database as much as the dispatch itself.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from message_exchange.carriers.base import CarrierRejected, OutboundMessage, SubmitResult
from message_exchange.config import Settings
from message_exchange.inbound.service import InboundMedia, InboundMessage, receive
from message_exchange.jobs.registry import BatchContext, JobContext, batch_handler, job_handler
from message_exchange.jobs.service import enqueue_many
from message_exchange.messages.repository import MessageRepository
from message_exchange.messages.service import StatusEvent, record_status
from message_exchange.messages.status import MessageStatus
from message_exchange.numbers.repository import NumberRepository

NAME = "sandbox"
RECEIPT_JOB = "sandbox.receipt"
RECEIPTS = "receipts"  # a receipt job's payload: {"receipts": [{carrier_message_id, status, …}, …]}
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
        (outcome,) = await self.submit_many([message])
        if isinstance(outcome, CarrierRejected):
            raise outcome
        return outcome

    async def submit_many(self, messages: Sequence[OutboundMessage]) -> list[SubmitResult | CarrierRejected]:
        """Submit several messages at once (what dispatching a batch does): their outcomes in order.

        The receipts and loopbacks of all of them are two multi-row inserts, and the numbers
        the platform owns one query.
        """
        outcomes: list[SubmitResult | CarrierRejected] = []
        receipts: list[dict[str, Any]] = []
        accepted: list[tuple[OutboundMessage, str]] = []
        for message in messages:
            if message.to_address in REJECTED_AT_SUBMIT:
                code, text = REJECTED_AT_SUBMIT[message.to_address]
                outcomes.append(CarrierRejected(text, code=code))
                continue
            # The message sid is the idempotency key: the same message always gets the same id.
            carrier_id = "SBX" + hashlib.sha256(message.sid.encode()).hexdigest()[:29]
            receipt: dict[str, Any] = {"carrier_message_id": carrier_id, "status": "delivered"}
            if message.to_address in UNDELIVERED:
                code, text = UNDELIVERED[message.to_address]
                receipt.update(status="undelivered", error_code=code, error_message=text)
            else:
                accepted.append((message, carrier_id))
            receipts.append(receipt)
            outcomes.append(SubmitResult(carrier_message_id=carrier_id))
        delay = self._settings.sandbox_delivery_delay_seconds
        if receipts:
            await enqueue_many(self._session, RECEIPT_JOB, [{RECEIPTS: receipts}], delay=delay)
        owned = await NumberRepository(self._session).by_phone_numbers({message.to_address for message, _ in accepted})
        loopbacks = [
            {
                "carrier_message_id": carrier_id,
                "channel": message.channel,
                "from": message.from_address,
                "to": message.to_address,
                "body": message.body,
                "media": [{"url": item.url, "content_type": item.content_type} for item in message.media],
            }
            for message, carrier_id in accepted
            if message.to_address in owned
        ]
        await enqueue_many(self._session, LOOPBACK_JOB, loopbacks, delay=delay)
        return outcomes


def _receipts(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """A receipt job's receipts: its list, or itself (a job written before receipts were bundled)."""
    bundled = payload.get(RECEIPTS)
    return list(bundled) if isinstance(bundled, list) else [payload]


async def _apply_receipts(session: AsyncSession, receipts: list[dict[str, Any]]) -> None:
    """Apply receipts in one transaction: one query finds and locks their messages; a receipt
    whose message carries no such id (yet) is dropped, as a real carrier's would be."""
    messages = await MessageRepository(session).by_carrier_ids(
        NAME, {str(receipt["carrier_message_id"]) for receipt in receipts}
    )
    for receipt in receipts:
        message = messages.get(str(receipt["carrier_message_id"]))
        if message is not None:
            await record_status(session, message, _receipt_event(receipt))


@job_handler(RECEIPT_JOB)
async def deliver_receipt(ctx: JobContext, payload: dict[str, Any]) -> None:
    await _apply_receipts(ctx.session, _receipts(payload))


def _receipt_event(payload: dict[str, Any]) -> StatusEvent:
    return StatusEvent(
        status=MessageStatus(payload["status"]),
        error_code=payload.get("error_code"),
        error_message=payload.get("error_message"),
    )


@batch_handler(RECEIPT_JOB)
async def deliver_receipts(ctx: BatchContext) -> list[str]:
    """Many receipt jobs in one transaction."""
    await _apply_receipts(ctx.session, [receipt for item in ctx.items for receipt in _receipts(item.payload)])
    return [item.job_id for item in ctx.items]


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
