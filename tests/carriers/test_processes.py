"""Real processes: `mx worker` runs the carrier registry, follows `mx carriers` changes, unbinds on SIGTERM.

``mx serve`` (API only) accepts the message, a separate ``mx worker`` dispatches it over SMPP
to the scripted SMSC; the carrier is added while the worker already runs, then disabled and enabled with the CLI.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from message_exchange.accounts import service as accounts
from message_exchange.carriers import service
from message_exchange.core.crypto import SecretBox
from message_exchange.db.engine import create_engine, create_session_factory
from message_exchange.numbers import service as numbers
from tests.conftest import TEST_SECRET_KEY
from tests.fakes.smsc import FakeSmsc, node_available
from tests.support.processes import MX, ROOT, ServerProcesses, mx_env, run_cli

SENDER = "+19876543210"


async def _in_database(url: str, work: Callable[[AsyncSession, SecretBox], Awaitable[object]]) -> None:
    """One committed transaction, as another process (the operator's CLI, tested on its own) would."""
    engine = create_engine(url)
    try:
        async with create_session_factory(engine)() as session, session.begin():
            await work(session, SecretBox(TEST_SECRET_KEY.encode()))
    finally:
        await engine.dispose()


async def _number(session: AsyncSession, account_sid: str) -> None:
    owner = await accounts.get_by_sid(session, account_sid)
    await numbers.add_number(session, owner, numbers.NewNumber(SENDER))


async def _carrier(session: AsyncSession, box: SecretBox, port: int) -> None:
    values = {"name": "smsc", "host": "127.0.0.1", "port": port, "system_id": "esme", "password": "secret"}
    values.update(bind_lease_seconds=3.0, reconnect_min_seconds=0.1, reconnect_max_seconds=0.5)
    await service.create_connection(session, box, values)
    await service.add_route(session, carrier="smsc")


async def _wait(condition_name: str, check: Callable[[], Awaitable[bool]], within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, f"{condition_name} did not happen within {within}s"
        await asyncio.sleep(0.1)


async def _prepared(database_url: str, tmp_path: Path, **extra_env: str) -> tuple[dict[str, str], Any, FakeSmsc]:
    """The environment of ``mx`` processes, an account owning ``SENDER``, and a started SMSC."""
    if not node_available():
        pytest.fail("node and node_modules/smpp are needed (scripts/bootstrap runs npm ci)")
    env = mx_env(
        database_url,
        tmp_path,
        TEST_SECRET_KEY,
        MX_RUN_WORKERS="false",
        MX_JOB_POLL_SECONDS="0.1",
        MX_CARRIER_RELOAD_SECONDS="0.2",
        MX_LOG_LEVEL="INFO",
        **extra_env,
    )
    account = await run_cli(env, "accounts", "create", "--email", "ops@example.com", "--password", "long-enough")
    await _in_database(database_url, lambda session, box: _number(session, account["sid"]))
    fake = await FakeSmsc({"receipts": {"mode": "text", "delay_ms": 20}}).start()
    return env, account, fake


@pytest.mark.slow
async def test_mx_worker_binds_sends_follows_changes_and_unbinds(database_url: str, tmp_path: Path) -> None:
    env, account, fake = await _prepared(database_url, tmp_path)
    servers = ServerProcesses(env, tmp_path)
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        worker = await asyncio.create_subprocess_exec(str(MX), "worker", cwd=ROOT, env=env, stdout=log, stderr=log)
        try:
            server = await servers.start()
            await asyncio.sleep(0.5)  # the worker is up before the carrier exists
            await _in_database(database_url, lambda session, box: _carrier(session, box, fake.port))
            await fake.wait_for("bind", timeout=20)

            auth = (account["sid"], account["auth_token"])
            async with httpx.AsyncClient(base_url=server.base_url, auth=auth) as http:
                sent = await http.post(
                    f"/api/2012-04-24/Accounts/{account['sid']}/Messages",
                    data={"from": f"sms:{SENDER}", "to": "sms:+15551230000", "body": "over SMPP"},
                )
                assert sent.status_code == 200, sent.text
                sid = sent.json()["sid"]

                async def delivered() -> bool:
                    got = await http.get(f"/api/2012-04-24/Accounts/{account['sid']}/Messages/{sid}.json")
                    return bool(got.json()["status"] == "delivered")

                await _wait("delivery", delivered)
            [submit] = fake.accepted()
            assert bytes.fromhex(submit["short_message"]) == b"over SMPP"

            # Disabling the connection with the CLI unbinds it in the running worker.
            await run_cli(env, "carriers", "update", "smsc", "--disable")
            await fake.wait_for("unbind", timeout=20)
            await run_cli(env, "carriers", "update", "smsc", "--enable")
            await fake.wait_for("bind", count=2, timeout=20)

            # SIGTERM: the worker stops, unbinding on its way out.
            worker.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(worker.wait(), 30) == 0, log_path.read_text()
            await fake.wait_for("unbind", count=2, timeout=5)
            assert await server.stop() == 0
        finally:
            if worker.returncode is None:
                worker.kill()
                await worker.wait()
            await servers.close()
            await fake.stop()


@pytest.mark.slow
@pytest.mark.postgres
async def test_two_workers_one_bind_every_message_goes_through_the_bound_node(
    backend: str, database_url: str, tmp_path: Path
) -> None:
    """binds=1, two `mx worker` processes: the unbound node steers its messages to the bound one.

    With one attempt per job, a message the unbound node claimed would otherwise fail (30008).
    """
    if backend != "postgres":
        pytest.skip("several worker processes share the work on PostgreSQL")
    env, account, fake = await _prepared(database_url, tmp_path, MX_JOB_MAX_ATTEMPTS="1", MX_WORKER_CONCURRENCY="2")
    await _in_database(database_url, lambda session, box: _carrier(session, box, fake.port))
    servers = ServerProcesses(env, tmp_path)
    workers: list[asyncio.subprocess.Process] = []
    try:
        for n in range(2):
            log = (tmp_path / f"worker{n}.log").open("wb")
            workers.append(
                await asyncio.create_subprocess_exec(str(MX), "worker", cwd=ROOT, env=env, stdout=log, stderr=log)
            )
        await fake.wait_for("bind", timeout=20)
        server = await servers.start()
        auth = (account["sid"], account["auth_token"])
        base = f"/api/2012-04-24/Accounts/{account['sid']}/Messages"
        async with httpx.AsyncClient(base_url=server.base_url, auth=auth) as http:
            sids = []
            for n in range(30):
                sent = await http.post(base, data={"from": f"sms:{SENDER}", "to": f"sms:+1555123{n:04d}", "body": "hi"})
                assert sent.status_code == 200, sent.text
                sids.append(sent.json()["sid"])

            async def all_final() -> bool:
                listed = (await http.get(f"{base}.json", params={"PageSize": 100})).json()["messages"]
                return sum(m["status"] in ("delivered", "undelivered", "failed") for m in listed) == len(sids)

            await _wait("every message final", all_final, within=60)
            listed = (await http.get(f"{base}.json", params={"PageSize": 100})).json()["messages"]
        assert {m["status"] for m in listed} == {"delivered"}, [(m["status"], m["error_code"]) for m in listed]
        assert len(fake.accepted()) == len(sids)  # each message submitted once
        assert len(fake.of("bind")) == 1  # never more than binds=1
        await server.stop()
    finally:
        for worker in workers:
            if worker.returncode is None:
                worker.send_signal(signal.SIGTERM)
        for worker in workers:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(worker.wait(), 20)
            if worker.returncode is None:
                worker.kill()
                await worker.wait()
        await servers.close()
        await fake.stop()
