"""Crash test: SIGKILL a real ``mx serve`` while 2,000 messages are being sent, then restart it.

What must hold (DESIGN §2): a request is answered only after its message and its dispatch
job are committed, so every 2xx message reaches ``delivered`` after the restart; a crash
mid-dispatch rolls the submission back with the transaction and the expired lease hands
the job to the restarted server, so no message is submitted to the carrier twice; and no
request that got no answer left half its writes behind.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from message_exchange.messages.service import dispatch_sids
from tests.conftest import TEST_SECRET_KEY
from tests.support.processes import MxServer, ServerProcesses, mx_env, run_cli

TOTAL = 2000
CONCURRENCY = 50
KILL_AFTER = 800  # 2xx responses seen before the SIGKILL
LEASE_SECONDS = 3
SENDER = "+15551230001"


async def _send_all(server: MxServer, account: dict[str, str]) -> tuple[list[str], Counter[str]]:
    """POST TOTAL messages, CONCURRENCY at a time; SIGKILL ``server`` after KILL_AFTER 2xx.

    The sids of the 2xx answers, and what happened to every other request.
    """
    accepted: list[str] = []
    others: Counter[str] = Counter()
    next_index = iter(range(TOTAL))
    url = f"/api/2012-04-24/Accounts/{account['sid']}/Messages"
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(
        base_url=server.base_url,
        auth=httpx.BasicAuth(account["sid"], account["auth_token"]),
        limits=limits,
        timeout=15.0,
    ) as http:

        async def sender() -> None:
            for n in next_index:
                form = {"from": f"sms:{SENDER}", "to": f"sms:+1555{n:07d}", "body": f"crash test {n}"}
                try:
                    response = await http.post(url, data=form)
                except httpx.ConnectError:
                    others["refused (never sent)"] += 1
                    continue
                except httpx.TransportError as exc:
                    others[f"no response ({type(exc).__name__})"] += 1
                    continue
                if response.is_success:
                    accepted.append(response.json()["sid"])
                    if len(accepted) == KILL_AFTER:
                        server.kill()
                else:
                    others[f"HTTP {response.status_code}"] += 1

        await asyncio.gather(*(sender() for _ in range(CONCURRENCY)))
    return accepted, others


async def _query(database_url: str, sql: str) -> list[Any]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(text(sql))).all())
    finally:
        await engine.dispose()


def _payload(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, str) else dict(value)


@pytest.mark.slow
async def test_sigkill_mid_send_loses_nothing_and_submits_nothing_twice(
    database_url: str, tmp_path: Path, backend: str
) -> None:
    env = mx_env(
        database_url,
        tmp_path,
        TEST_SECRET_KEY,
        MX_JOB_LEASE_SECONDS=str(LEASE_SECONDS),
        MX_JOB_POLL_SECONDS="0.2",
        MX_SANDBOX_DELIVERY_DELAY_SECONDS="0.3",
    )
    account = await run_cli(env, "accounts", "create", "--email", "crash@example.com", "--password", "s3cret-passw0rd")
    await run_cli(env, "numbers", "add", "--account", account["sid"], "--number", SENDER)

    servers = ServerProcesses(env, tmp_path)
    try:
        first = await servers.start()
        t0 = time.monotonic()
        accepted, others = await _send_all(first, account)
        killed_after = time.monotonic() - t0
        await first.process.wait()
        assert first.process.returncode == -9, "the server was SIGKILLed, not stopped"

        # The state the crash left: what the restarted server has to finish.
        at_crash = dict(await _query(database_url, "SELECT status, count(*) FROM messages GROUP BY status"))
        jobs_at_crash = await _query(database_url, "SELECT kind, status, count(*) FROM jobs GROUP BY kind, status")

        second = await servers.start()
        sids = ", ".join(f"'{sid}'" for sid in accepted)
        deadline = time.monotonic() + 45
        while True:
            delivered = (
                await _query(
                    database_url, f"SELECT count(*) FROM messages WHERE status = 'delivered' AND sid IN ({sids})"
                )
            )[0][0]
            unfinished = (await _query(database_url, "SELECT count(*) FROM messages WHERE status <> 'delivered'"))[0][0]
            if delivered == len(accepted) and unfinished == 0:
                break
            assert second.running, f"the restarted server died:\n{second.log()}"
            assert time.monotonic() < deadline, f"{len(accepted) - delivered} accepted messages not delivered in 45 s"
            await asyncio.sleep(0.2)
        recovered_in = time.monotonic() - t0 - killed_after
        assert await second.stop() == 0
    finally:
        await servers.close()

    messages = await _query(database_url, "SELECT sid, status, carrier, carrier_message_id FROM messages")
    jobs = await _query(database_url, "SELECT id, kind, status, attempts, payload FROM jobs")
    attempts = await _query(database_url, "SELECT job_id, attempt, outcome FROM job_attempts")

    # --- every 2xx message exists and was delivered --------------------------------------
    by_sid = {row[0]: row for row in messages}
    assert len(accepted) >= KILL_AFTER and len(set(accepted)) == len(accepted)
    assert set(accepted) <= set(by_sid), "a message answered 2xx is missing after the crash"
    assert {by_sid[sid][1] for sid in accepted} == {"delivered"}
    assert len(accepted) < TOTAL, "the crash happened mid-way: some requests got no 2xx"
    assert sum(n for status, n in at_crash.items() if status != "delivered") > 0, (
        f"the crash left no unfinished message to recover: {at_crash}"
    )

    # --- nothing half-written: a message row iff its dispatch job ------------------------
    # (Sends accepted together share a job: a job names one message or several.)
    dispatch_jobs = [row for row in jobs if row[1] == "message.dispatch"]
    named = Counter(sid for row in dispatch_jobs for sid in dispatch_sids(_payload(row[4])))
    assert set(named) == set(by_sid), "a message without its dispatch job, or a job without its message"
    assert set(named.values()) == {1}, "a message is named by more than one dispatch job"

    # --- submitted exactly once: one carrier id, one receipt per message ------------------
    carrier_ids = Counter(row[3] for row in messages)
    assert None not in carrier_ids and set(carrier_ids.values()) == {1}
    assert {row[2] for row in messages} == {"sandbox"}
    receipts = Counter(
        receipt["carrier_message_id"]
        for row in jobs
        if row[1] == "sandbox.receipt"
        for receipt in _payload(row[4])["receipts"]
    )
    assert set(receipts) == set(carrier_ids), "every submission has its receipt, and only submissions have one"
    assert set(receipts.values()) == {1}, "a message was submitted to the carrier twice"
    assert {row[2] for row in jobs} == {"succeeded"}, Counter(row[2] for row in jobs)

    # --- each dispatch succeeded once; retries after the crash are the expired leases -----
    outcomes: dict[str, list[tuple[int, str]]] = {}
    for job_id, attempt, outcome in attempts:
        outcomes.setdefault(job_id, []).append((attempt, outcome))
    dispatch_ids = {row[0] for row in dispatch_jobs}
    for job_id in dispatch_ids:
        history = sorted(outcomes[job_id])
        assert [outcome for _, outcome in history].count("succeeded") == 1, history
        assert history[-1][1] == "succeeded" and all(o == "lease_expired" for _, o in history[:-1]), history
    retried = sorted(job_id for job_id in dispatch_ids if len(outcomes[job_id]) > 1)
    expired = Counter(row[1] for row in jobs for _, o in outcomes.get(row[0], []) if o == "lease_expired")

    no_answer = sum(n for what, n in others.items() if what.startswith("no response"))
    print(
        f"\n[{backend}] {len(accepted)} answered 2xx before/at the SIGKILL ({killed_after:.1f}s); "
        f"{no_answer} in flight got no response, {len(by_sid) - len(accepted)} of those were committed anyway; "
        f"other requests: {dict(others)}\n"
        f"  at the crash: messages by status {at_crash}; jobs {[tuple(r) for r in jobs_at_crash]}\n"
        f"  after restart: all {len(by_sid)} messages delivered in {recovered_in:.1f}s; "
        f"{len(retried)} dispatch jobs re-run after their lease expired ({retried[:5]}…); "
        f"expired leases by kind {dict(expired)}"
    )
