from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence

from fastapi import FastAPI
from sqlalchemy import select

from message_exchange.jobs import service as jobs
from message_exchange.jobs.registry import load_handler_modules
from message_exchange.jobs.worker import Worker
from message_exchange.webhooks import service
from message_exchange.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery


async def enqueue(
    app: FastAPI,
    *,
    account_sid: str,
    url: str,
    resource_sid: str = "SM" + "0" * 32,
    method: str = "POST",
    params: Mapping[str, str | Sequence[str]] | None = None,
    purpose: str = "status_callback",
) -> str:
    async with app.state.session_factory() as session, session.begin():
        return await service.enqueue_delivery(
            session,
            account_sid=account_sid,
            resource_sid=resource_sid,
            purpose=purpose,
            url=url,
            method=method,
            params=params if params is not None else {"MessageSid": resource_sid, "MessageStatus": "sent"},
        )


async def load(app: FastAPI, sid: str) -> tuple[WebhookDelivery, list[WebhookAttempt]]:
    async with app.state.session_factory() as session:
        delivery = await session.get(WebhookDelivery, sid)
        assert delivery is not None
        attempts = (
            await session.execute(
                select(WebhookAttempt).where(WebhookAttempt.delivery_sid == sid).order_by(WebhookAttempt.attempt)
            )
        ).scalars()
        return delivery, list(attempts)


async def run_until_settled(app: FastAPI, sids: Sequence[str], within: float = 15.0) -> list[WebhookDelivery]:
    """Drive a worker (``run_pending`` in a loop) until every delivery is delivered or failed."""
    load_handler_modules(())  # what Worker.start does; run_pending alone does not
    worker = Worker(app.state.settings, app.state.session_factory, worker_id="test-worker")
    started = time.monotonic()
    while True:
        deliveries = [(await load(app, sid))[0] for sid in sids]
        if all(d.status != DeliveryStatus.PENDING for d in deliveries):
            return deliveries
        for delivery in deliveries:
            if delivery.status == DeliveryStatus.PENDING:
                async with app.state.session_factory() as session:
                    job = await jobs.get_job(session, delivery.job_id or "")
                assert job is not None and job.status != "dead", f"{delivery.sid} pending but its job is dead"
        if time.monotonic() - started > within:
            raise AssertionError(f"deliveries still pending after {within}s: {[d.sid for d in deliveries]}")
        if not await worker.run_pending():
            await asyncio.sleep(0.01)
