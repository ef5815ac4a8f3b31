"""Durable deliveries through the job queue, against a real HTTP server, on both backends."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from twilio.request_validator import RequestValidator

from message_exchange.db.base import utcnow
from message_exchange.jobs import service as jobs
from message_exchange.jobs.models import Job
from message_exchange.jobs.registry import JobContext, load_handler_modules
from message_exchange.jobs.worker import Worker
from message_exchange.webhooks import service
from message_exchange.webhooks.client import WebhookResult
from message_exchange.webhooks.handlers import deliver, on_response
from message_exchange.webhooks.models import DeliveryStatus, WebhookDelivery
from message_exchange.webhooks.repository import WebhookRepository
from message_exchange.webhooks.service import DELIVER_JOB
from tests.fakes.callback_sink import CallbackSink, closed_port_url
from tests.support.accounts import Creds
from tests.support.plans import generic_plans
from tests.webhooks.helpers import enqueue, load, run_until_settled


async def test_target_failing_twice_then_succeeding_gets_one_delivery_and_three_attempts(
    app: FastAPI, root: Creds, sink: CallbackSink
) -> None:
    sink.respond("/status", status=500, times=2)
    sid = await enqueue(app, account_sid=root.sid, url=sink.url("/status"))
    [delivery] = await run_until_settled(app, [sid])
    assert delivery.status == DeliveryStatus.DELIVERED
    assert delivery.attempts == 3 and delivery.last_status_code == 200 and delivery.finished_at is not None
    _, attempts = await load(app, sid)
    assert [(a.attempt, a.status_code) for a in attempts] == [(1, 500), (2, 500), (3, 200)]
    assert [a.error for a in attempts] == ["HTTP 500", "HTTP 500", None]
    assert len(sink.requests) == 3
    # Every attempt is signed with the account's token, and the receiver's validator agrees.
    for request in sink.requests:
        assert RequestValidator(root.token).validate(request.url, request.form, request.signature)
    # Nothing more is sent once delivered.
    await run_until_settled(app, [sid])
    assert len(sink.requests) == 3


async def test_target_down_ends_failed_after_max_attempts(app: FastAPI, root: Creds) -> None:
    sid = await enqueue(app, account_sid=root.sid, url=closed_port_url("/down"))
    [delivery] = await run_until_settled(app, [sid])
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == app.state.settings.webhook_max_attempts == 3
    _, attempts = await load(app, sid)
    assert [a.attempt for a in attempts] == [1, 2, 3]
    assert all(a.status_code is None and a.error for a in attempts)
    assert delivery.last_error == attempts[-1].error
    async with app.state.session_factory() as session:
        job = await jobs.get_job(session, delivery.job_id or "")
    assert job is not None and job.status == "dead"


async def test_client_error_fails_after_one_attempt(app: FastAPI, root: Creds, sink: CallbackSink) -> None:
    sink.respond("/gone", status=404, times=None)
    sid = await enqueue(app, account_sid=root.sid, url=sink.url("/gone"))
    [delivery] = await run_until_settled(app, [sid])
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == 1 and delivery.last_status_code == 404
    assert len(sink.requests) == 1


async def test_throttled_429_is_retried(app: FastAPI, root: Creds, sink: CallbackSink) -> None:
    sink.respond("/busy", status=429)
    sid = await enqueue(app, account_sid=root.sid, url=sink.url("/busy"))
    [delivery] = await run_until_settled(app, [sid])
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 2


async def test_refused_target_fails_at_once_with_the_reason(app: FastAPI, root: Creds) -> None:
    sid = await enqueue(app, account_sid=root.sid, url="ftp://files.example.com/cb")
    [delivery] = await run_until_settled(app, [sid])
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 1
    assert delivery.last_error is not None and "http or https" in delivery.last_error


async def test_same_resource_and_url_arrive_in_creation_order(app: FastAPI, root: Creds, sink: CallbackSink) -> None:
    """sending → sent → delivered: the first fails twice, the later ones wait for it."""
    resource = "SM" + "7" * 32
    sink.respond("/cb", status=500, times=2)
    sids = [
        await enqueue(
            app,
            account_sid=root.sid,
            url=sink.url("/cb"),
            resource_sid=resource,
            params={"MessageSid": resource, "MessageStatus": status},
        )
        for status in ("sending", "sent", "delivered")
    ]
    deliveries = await run_until_settled(app, sids)
    assert all(d.status == DeliveryStatus.DELIVERED for d in deliveries)
    ours = [r.form["MessageStatus"] for r in sink.requests if r.form.get("MessageSid") == resource]
    assert ours == ["sending", "sending", "sending", "sent", "delivered"]
    # Waiting for the first did not use up the later ones' attempts (max is 3).
    assert [d.attempts for d in deliveries[:3]] == [3, 1, 1]


async def test_a_later_delivery_waits_but_other_resources_do_not(app: FastAPI, root: Creds, sink: CallbackSink) -> None:
    message_a, message_b = "SM" + "a" * 32, "SM" + "b" * 32
    sink.respond("/shared", status=503)
    a1 = await enqueue(app, account_sid=root.sid, url=sink.url("/shared"), resource_sid=message_a)
    load_handler_modules(())
    assert await Worker(app.state.settings, app.state.session_factory).run_pending() == 1
    first, _ = await load(app, a1)
    assert first.status == DeliveryStatus.PENDING and first.attempts == 1
    # Its retry is an hour away: what comes after it for the same message and URL must wait.
    async with app.state.session_factory() as session, session.begin():
        await session.execute(update(Job).where(Job.id == first.job_id).values(run_at=utcnow() + timedelta(hours=1)))
    a2 = await enqueue(app, account_sid=root.sid, url=sink.url("/shared"), resource_sid=message_a)
    b1 = await enqueue(app, account_sid=root.sid, url=sink.url("/shared"), resource_sid=message_b)
    await run_until_settled(app, [b1])
    for _ in range(3):
        await Worker(app.state.settings, app.state.session_factory).run_pending()
    waiting, _ = await load(app, a2)
    assert waiting.status == DeliveryStatus.PENDING and waiting.attempts == 0
    assert [r.form["MessageSid"] for r in sink.requests] == [message_a, message_b]
    # The waiting delivery is scheduled after its predecessor's next run, not polling.
    async with app.state.session_factory() as session:
        waiting_job = await jobs.get_job(session, waiting.job_id or "")
    assert waiting_job is not None and waiting_job.run_at > utcnow() + timedelta(seconds=30)


async def test_a_failed_predecessor_does_not_block_the_next(app: FastAPI, root: Creds, sink: CallbackSink) -> None:
    sink.respond("/cb", status=400)
    first = await enqueue(app, account_sid=root.sid, url=sink.url("/cb"), params={"MessageStatus": "sent"})
    second = await enqueue(app, account_sid=root.sid, url=sink.url("/cb"), params={"MessageStatus": "delivered"})
    d1, d2 = await run_until_settled(app, [first, second])
    assert (d1.status, d2.status) == (DeliveryStatus.FAILED, DeliveryStatus.DELIVERED)
    assert [r.form["MessageStatus"] for r in sink.requests] == ["sent", "delivered"]


async def test_get_and_post_deliveries(app: FastAPI, root: Creds, sink: CallbackSink) -> None:
    params = {"MessageSid": "SM" + "3" * 32, "MessageStatus": "delivered", "Body": "a&b c"}
    get_sid = await enqueue(app, account_sid=root.sid, url=sink.url("/get?k=v"), method="GET", params=params)
    post_sid = await enqueue(app, account_sid=root.sid, url=sink.url("/post"), method="post", params=params)
    await run_until_settled(app, [get_sid, post_sid])
    [get_request] = sink.requests_to("/get")
    [post_request] = sink.requests_to("/post")
    assert get_request.method == "GET" and get_request.body == b""
    assert dict(get_request.query) == {"k": "v", **params}
    assert post_request.method == "POST" and post_request.form == params and post_request.query == []
    validator = RequestValidator(root.token)
    assert validator.validate(get_request.url, {}, get_request.signature)
    assert validator.validate(post_request.url, post_request.form, post_request.signature)


async def test_signed_with_the_token_current_at_send_time(app: FastAPI, root: Creds, sink: CallbackSink) -> None:
    from message_exchange.accounts import service as accounts

    sid = await enqueue(app, account_sid=root.sid, url=sink.url("/rot"))
    async with app.state.session_factory() as session, session.begin():
        account = await accounts.get_by_sid(session, root.sid)
        new_token = await accounts.rotate_token(session, app.state.secret_box, account)
    await run_until_settled(app, [sid])
    [request] = sink.requests
    assert RequestValidator(new_token).validate(request.url, request.form, request.signature)
    assert not RequestValidator(root.token).validate(request.url, request.form, request.signature)


async def test_response_hook_gets_the_reply_of_a_delivered_webhook(
    app: FastAPI, root: Creds, sink: CallbackSink
) -> None:
    seen: list[tuple[str, int | None, str]] = []

    @on_response("test_reply")
    async def hook(session: AsyncSession, delivery: WebhookDelivery, result: WebhookResult) -> None:
        seen.append((delivery.sid, result.status_code, result.body))

    xml = "<Response><Message>pong</Message></Response>"
    sink.respond("/sms", status=502)
    sink.respond("/sms", body=xml, content_type="application/xml")
    sid = await enqueue(app, account_sid=root.sid, url=sink.url("/sms"), purpose="test_reply")
    await run_until_settled(app, [sid])
    assert seen == [(sid, 200, xml)]
    _, attempts = await load(app, sid)
    assert [a.response_body for a in attempts] == [None, xml]


async def test_malformed_url_fails_without_retrying(app: FastAPI, root: Creds) -> None:
    sid = await enqueue(app, account_sid=root.sid, url="http://exa mple.com:99999/x")
    [delivery] = await run_until_settled(app, [sid])
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 1


async def test_a_batch_sends_many_lines_at_once_each_in_order(app: FastAPI, root: Creds, sink: CallbackSink) -> None:
    """Twenty messages' sending → sent → delivered: one worker run sends all sixty, each line in order."""
    messages = [f"SM{n:032d}" for n in range(20)]
    sids = [
        await enqueue(
            app,
            account_sid=root.sid,
            url=sink.url("/cb"),
            resource_sid=message,
            params={"MessageSid": message, "MessageStatus": status},
        )
        for message in messages
        for status in ("sending", "sent", "delivered")
    ]
    load_handler_modules(())
    assert await Worker(app.state.settings, app.state.session_factory).run_pending(limit=100) == 60
    # One by one, a line's later deliveries would have found their predecessor running and waited.
    assert {(await load(app, sid))[0].status for sid in sids} == {DeliveryStatus.DELIVERED}
    for message in messages:
        line = [r.form["MessageStatus"] for r in sink.requests if r.form["MessageSid"] == message]
        assert line == ["sending", "sent", "delivered"]


async def test_a_failure_in_a_batch_holds_the_rest_of_its_line_only(
    app: FastAPI, root: Creds, sink: CallbackSink
) -> None:
    sink.respond("/flaky", status=503, times=1)
    flaky = [
        await enqueue(app, account_sid=root.sid, url=sink.url("/flaky"), params={"MessageStatus": status})
        for status in ("sending", "sent")
    ]
    other = await enqueue(app, account_sid=root.sid, url=sink.url("/fine"), resource_sid="SM" + "9" * 32)
    load_handler_modules(())
    await Worker(app.state.settings, app.state.session_factory).run_pending(limit=10)
    first, attempts = await load(app, flaky[0])
    assert (first.status, [a.status_code for a in attempts]) == (DeliveryStatus.PENDING, [503])
    assert (await load(app, flaky[1]))[0].attempts == 0, "it waits behind the failed one"
    assert (await load(app, other))[0].status == DeliveryStatus.DELIVERED
    delivered = await run_until_settled(app, flaky)
    assert [d.status for d in delivered] == [DeliveryStatus.DELIVERED] * 2
    assert [r.form["MessageStatus"] for r in sink.requests if r.path == "/flaky"] == ["sending", "sending", "sent"]


async def _enqueue_together(app: FastAPI, account: Creds, specs: list[tuple[str, str, str]]) -> list[str]:
    """Deliveries (resource sid, url, MessageStatus) stored in one transaction, as a batch's callbacks are."""
    async with app.state.session_factory() as session, session.begin():
        return [
            await service.enqueue_delivery(
                session,
                account_sid=account.sid,
                resource_sid=resource,
                purpose="status_callback",
                url=url,
                method="POST",
                params={"MessageSid": resource, "MessageStatus": status},
            )
            for resource, url, status in specs
        ]


async def test_deliveries_of_one_transaction_share_a_job_and_what_it_leaves_gets_its_own(
    app: FastAPI, root: Creds, sink: CallbackSink
) -> None:
    a, b = "SM" + "a" * 32, "SM" + "b" * 32
    sink.respond("/a", status=503, times=1)
    sids = await _enqueue_together(
        app, root, [(a, sink.url("/a"), "sending"), (a, sink.url("/a"), "sent"), (b, sink.url("/b"), "sent")]
    )
    [shared] = {(await load(app, sid))[0].job_id for sid in sids}
    async with app.state.session_factory() as session:
        assert (await session.execute(select(func.count()).select_from(Job))).scalar_one() == 1
    load_handler_modules(())
    assert await Worker(app.state.settings, app.state.session_factory).run_pending() == 1

    a1, a2, b1 = [(await load(app, sid))[0] for sid in sids]
    assert b1.status == DeliveryStatus.DELIVERED and b1.job_id == shared
    # The 503 is retried by a job of its own; the delivery behind it waits in a job of its own.
    assert (a1.status, a1.attempts, a2.status, a2.attempts) == ("pending", 1, "pending", 0)
    assert len({shared, a1.job_id, a2.job_id}) == 3
    async with app.state.session_factory() as session:
        shared_job = await jobs.get_job(session, shared or "")
        own = await jobs.get_job(session, a1.job_id or "")
    assert shared_job is not None and shared_job.status == "succeeded"
    assert own is not None and own.payload == {"delivery_sid": a1.sid} and own.run_at >= a1.updated_at

    assert {d.status for d in await run_until_settled(app, sids)} == {DeliveryStatus.DELIVERED}
    assert [r.form["MessageStatus"] for r in sink.requests_to("/a")] == ["sending", "sending", "sent"]
    assert len(sink.requests_to("/b")) == 1


async def test_a_shared_job_run_on_its_own_gives_each_pending_delivery_a_job(
    app: FastAPI, root: Creds, sink: CallbackSink
) -> None:
    """What the one-by-one path does with a shared job (its batch failed): split it, send nothing itself."""
    settled, waiting = await _enqueue_together(
        app, root, [("SM" + "1" * 32, sink.url("/one"), "sent"), ("SM" + "2" * 32, sink.url("/two"), "sent")]
    )
    shared = (await load(app, settled))[0].job_id
    async with app.state.session_factory() as session, session.begin():
        await session.execute(
            update(WebhookDelivery).where(WebhookDelivery.sid == settled).values(status=DeliveryStatus.DELIVERED)
        )
    async with app.state.session_factory() as session, session.begin():
        context = JobContext(session, shared or "", DELIVER_JOB, 1, 5, "test-worker", app.state.settings)
        await deliver(context, {"delivery_sids": [settled, waiting]})
    assert sink.requests == []
    assert (await load(app, settled))[0].job_id == shared
    own = (await load(app, waiting))[0].job_id
    async with app.state.session_factory() as session:
        job = await jobs.get_job(session, own or "")
    assert job is not None and job.payload == {"delivery_sid": waiting} and job.status == "pending"
    await run_until_settled(app, [waiting])
    assert [r.path for r in sink.requests] == ["/two"]


async def test_a_shared_job_holds_at_most_deliveries_per_job_and_counts_its_items(
    app: FastAPI, root: Creds, sink: CallbackSink
) -> None:
    many = service.DELIVERIES_PER_JOB + 1
    sids = await _enqueue_together(app, root, [(f"SM{n:032d}", sink.url("/cb"), "sent") for n in range(many)])
    async with app.state.session_factory() as session:
        jobs_made = (await session.execute(select(Job).where(Job.kind == DELIVER_JOB))).scalars().all()
    by_size = sorted(jobs_made, key=lambda job: job.items, reverse=True)
    assert [job.items for job in by_size] == [service.DELIVERIES_PER_JOB, 1]
    assert [len(service.delivery_sids(job.payload)) for job in by_size] == [service.DELIVERIES_PER_JOB, 1]
    assert sorted(sid for job in by_size for sid in service.delivery_sids(job.payload)) == sorted(sids)


async def test_pending_lines_look_their_resources_up_once_in_any_plan(app: FastAPI, backend: str) -> None:
    """The resources of a batch's deliveries are looked up once (by primary key), even in a
    generic plan made while the table is empty: as ``IN (subquery)`` such a plan scanned every
    pending delivery and probed the resource index for each (8–15 ms a batch in bench/smpp,
    growing with the backlog)."""
    if backend != "postgres":
        pytest.skip("plans are PostgreSQL's")
    async with app.state.session_factory() as session, session.begin():
        repo = WebhookRepository(session)
        [plan] = await generic_plans(session, "SELECT", lambda: repo.pending_lines_of(["WH1", "WH2"]))
    assert "InitPlan" in plan, plan
    assert "Nested Loop" not in plan, plan
    assert "pk_webhook_deliveries" in plan.partition("InitPlan")[2], plan
