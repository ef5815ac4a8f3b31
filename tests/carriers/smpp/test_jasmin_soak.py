"""Soak: a sustained stream through Jasmin 0.11.0, a third-party SMPP server (``-m soak`` only).

    API (mx serve) → mx worker (our ESME, smpp34) → Jasmin's SMPP server → Jasmin's router and
    RabbitMQ → Jasmin's smppc connector → the scripted SMSC (tests/fakes/smsc) → receipts back
    the same way (Jasmin's DLR lookup in Redis, its DLR thrower) → delivered / undelivered;
    MO from the scripted SMSC → Jasmin's MO router → our ESME → the inbound router.

Jasmin comes from ``scripts/jasmin`` (its own .venv-jasmin/), with the machine's RabbitMQ and
Redis on 127.0.0.1. Size and pace: ``MX_SOAK_SECONDS`` (default 90) × ``MX_SOAK_RATE`` messages
per second (default 40); 3 in 10 are long (multipart) or UCS-2 or both.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import re
import secrets
import signal
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from message_exchange.carriers.smpp.models import SmppParkedReceipt, SmppPart
from message_exchange.db.engine import create_engine, create_session_factory
from message_exchange.messages.models import Message
from tests.conftest import TEST_SECRET_KEY
from tests.fakes.jasmin import Jasmin, JCli, jasmin_installed
from tests.fakes.smsc import FakeSmsc, node_available
from tests.support.processes import MX, ROOT, ServerProcesses, mx_env, run_cli

pytestmark = [pytest.mark.soak, pytest.mark.slow]

SENDER = "+19876543210"
JASMIN_PASSWORD = "soakpw"
SMSC_CONNECTORS = 3  # Jasmin's smppc connectors to the scripted SMSC
FINAL = ("delivered", "undelivered", "failed")
UNDELIVERED_EVERY = 37  # every 37th destination gets an UNDELIV receipt from the SMSC
GSM_FILLER = "Lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor "
UCS2_FILLER = "Привет мир как дела "


@dataclass(frozen=True)
class Sent:
    n: int
    to: str
    body: str
    ucs2: bool

    @property
    def parts(self) -> int:
        single, per_part = (70, 67) if self.ucs2 else (160, 153)
        return 1 if len(self.body) <= single else math.ceil(len(self.body) / per_part)

    @property
    def smsc_destination(self) -> str:
        return self.to.removeprefix("+")


def message_for(n: int) -> Sent:
    """Deterministic mix: 14/20 short GSM-7, 2/20 long GSM-7, 2/20 short UCS-2, 2/20 long UCS-2."""
    to = f"+1555{n:07d}"
    kind = n % 20
    if kind in (14, 15):
        return Sent(n, to, f"Soak {n} long {GSM_FILLER * 5}".strip(), False)
    if kind in (16, 17):
        return Sent(n, to, f"Soak {n} привет ✓", True)
    if kind in (18, 19):
        return Sent(n, to, f"Soak {n} {UCS2_FILLER * 6}".strip(), True)
    return Sent(n, to, f"Soak {n} short message through Jasmin", False)


def decode_at_smsc(submits: list[dict[str, Any]]) -> str:
    """Join one message's parts as the SMSC received them (UDH stripped), decoded by data_coding."""
    text = b""
    coding = submits[0]["data_coding"]
    for submit in sorted(submits, key=lambda s: int(s["part"])):
        raw = bytes.fromhex(submit["short_message"] or "")
        if submit["esm_class"] & 0x40:
            raw = raw[raw[0] + 1 :]
        text += raw
    return text.decode("utf-16-be") if coding == 8 else text.decode("ascii")


async def provision(jcli: JCli, smsc_port: int, run: str) -> None:
    """A group and user for our ESME; smppc connectors to the scripted SMSC behind a round-robin MT
    route (a connector has one submit_sm in flight: it waits for each response); an MO route to us."""
    await jcli.add("group", gid="mxsoak")
    await jcli.add("user", username=run, password=JASMIN_PASSWORD, gid="mxsoak", uid="mxsoak")
    connectors = [f"{run}c{n}" for n in range(SMSC_CONNECTORS)]
    for cid in connectors:
        await jcli.add(
            "smppccm",
            cid=cid,
            host="127.0.0.1",
            port=smsc_port,
            username="esme",
            password="secret",
            submit_throughput=0,  # Jasmin's default is 1 submit_sm/s per connector
            con_loss_delay=1,
            con_fail_delay=1,
        )
        started = await jcli.send(f"smppccm -1 {cid}")
        assert "Successfully" in started, started
    await jcli.add("filter", type="TransparentFilter", fid="any")
    await jcli.add(
        "mtrouter",
        type="RandomRoundrobinMTRoute",
        order=10,
        filters="any",
        connectors=";".join(f"smppc({cid})" for cid in connectors),
        rate="0.00",
    )
    await jcli.add("morouter", type="DefaultRoute", connector=f"smpps({run})")


async def wait_until(what: str, check: Callable[[], Awaitable[bool]], within: float) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, f"{what} did not happen within {within}s"
        await asyncio.sleep(0.5)


async def test_sustained_stream_through_jasmin(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if not jasmin_installed():
        pytest.fail(
            "Jasmin is not installed: run scripts/jasmin (it creates .venv-jasmin/), then scripts/test -m soak -n 0"
        )
    if not node_available():
        pytest.fail("node and node_modules/smpp are needed (scripts/bootstrap runs npm ci)")
    seconds = float(os.environ.get("MX_SOAK_SECONDS", "90"))
    rate = float(os.environ.get("MX_SOAK_RATE", "40"))
    total = int(seconds * rate)
    plan = [message_for(n) for n in range(total)]
    undeliverable = {m.smsc_destination for m in plan if m.n % UNDELIVERED_EVERY == UNDELIVERED_EVERY - 1}

    # 10 ms before each submit_sm_resp: Jasmin records a submit's receipt mapping in Redis only
    # after queueing the submit, so an instant response can overtake it (see lost_in_jasmin).
    smsc = await FakeSmsc(
        {
            "resp_delay_ms": 10,
            "receipts": {"mode": "text", "delay_ms": 500, "per_dest": dict.fromkeys(undeliverable, "UNDELIV")},
        }
    ).start()
    jasmin = Jasmin(tmp_path / "jasmin")
    env = mx_env(
        database_url,
        tmp_path,
        TEST_SECRET_KEY,
        MX_RUN_WORKERS="false",
        MX_JOB_POLL_SECONDS="0.05",
        MX_CARRIER_RELOAD_SECONDS="0.5",
        MX_LOG_LEVEL="WARNING",
    )
    servers = ServerProcesses(env, tmp_path)
    worker: asyncio.subprocess.Process | None = None
    engine = create_engine(database_url)
    sessions = create_session_factory(engine)
    # Our system_id at Jasmin and its connector ids' stem, this run's only: Jasmin's queues in the
    # shared RabbitMQ may still hold a killed run's receipts, thrown to a system_id no one binds.
    run = f"mx{secrets.token_hex(4)}"
    try:
        await jasmin.start()
        async with jasmin.jcli() as jcli:
            await provision(jcli, smsc.port, run)
        await smsc.wait_for("bind", count=SMSC_CONNECTORS, timeout=30)

        account = await run_cli(env, "accounts", "create", "--email", "soak@example.com", "--password", "long-enough")
        await run_cli(env, "numbers", "add", "--account", account["sid"], "--number", SENDER)
        await run_cli(
            env,
            "carriers", "add", "--name", "jasmin", "--host", "127.0.0.1", "--port", str(jasmin.smpp_port),
            "--system-id", run, "--password", JASMIN_PASSWORD, "--binds", "2", "--window", "20",
            "--enquire-link-seconds", "10", "--reconnect-min-seconds", "0.5", "--reconnect-max-seconds", "2",
        )  # fmt: skip
        await run_cli(env, "carriers", "route", "add", "--carrier", "jasmin")

        with (tmp_path / "worker.log").open("wb") as log:
            worker = await asyncio.create_subprocess_exec(str(MX), "worker", cwd=ROOT, env=env, stdout=log, stderr=log)
        server = await servers.start()

        def binds_at_jasmin(event: str) -> int:
            """Lines of Jasmin's SMPP server log like "Added CommandId.bind_transceiver bind for 'mx…'"."""
            lines = jasmin.log("default-smpps_01.log").splitlines()
            return sum(f" {event} " in line and f"bind for '{run}'" in line for line in lines)

        async def bound() -> bool:
            return binds_at_jasmin("Added") >= 2

        await wait_until("our two binds at Jasmin", bound, 30)

        # The stream: `rate` messages a second for `seconds`, each POST answered before its slot's next.
        accepted: dict[str, Sent] = {}
        refused: list[str] = []
        auth = (account["sid"], account["auth_token"])
        url = f"/api/2012-04-24/Accounts/{account['sid']}/Messages"
        limit = asyncio.Semaphore(32)
        started = time.monotonic()

        async def post(http: httpx.AsyncClient, m: Sent) -> None:
            await asyncio.sleep(max(0.0, started + m.n / rate - time.monotonic()))
            async with limit:
                try:
                    response = await http.post(url, data={"from": f"sms:{SENDER}", "to": f"sms:{m.to}", "body": m.body})
                except httpx.TransportError as exc:
                    refused.append(f"{m.n}: {exc!r}")
                    return
            if response.status_code == 200:
                accepted[response.json()["sid"]] = m
            else:
                refused.append(f"{m.n}: {response.status_code} {response.text[:200]}")

        # Idle keep-alive connections are dropped by the client well before uvicorn's 5 s idle
        # close, which could otherwise race a POST sent on a connection the server is closing.
        limits = httpx.Limits(max_connections=32, keepalive_expiry=1.0)
        async with httpx.AsyncClient(base_url=server.base_url, auth=auth, timeout=30, limits=limits) as http:
            await asyncio.gather(*(post(http, m) for m in plan))
        accept_seconds = time.monotonic() - started
        assert not refused, refused[:5]
        assert len(accepted) == total

        async def statuses() -> Counter[str]:
            async with sessions() as session:
                rows = await session.execute(
                    select(Message.status, func.count()).where(Message.direction != "inbound").group_by(Message.status)
                )
                return Counter({status: count for status, count in rows.all()})

        def lost_in_jasmin() -> set[str]:
            """Destinations of parts whose receipt Jasmin itself dropped (README: "Soak test against Jasmin").

            Its DLR lookup gives up on a receipt ("(final) DLRMapNotFound") when the submit's
            mapping was never written: such a message rightly stays ``sent`` here.
            """
            ids = set(re.findall(r"\[msgid:(\w+)\] \(final\) DLRMapNotFound", jasmin.log("messages.log")))
            return {str(s["destination_addr"]) for s in smsc.accepted() if s.get("message_id") in ids}

        async def unfinished() -> list[tuple[str, str]]:
            async with sessions() as session:
                rows = await session.execute(
                    select(Message.to_address, Message.status).where(
                        Message.direction != "inbound", Message.status.not_in(FINAL)
                    )
                )
                return [(to, status) for to, status in rows.all()]

        sent_seconds = 0.0

        async def all_sent() -> bool:
            nonlocal sent_seconds
            counts = await statuses()
            sent_seconds = time.monotonic() - started
            return sum(counts[s] for s in ("sent", *FINAL)) == total

        async def all_final() -> bool:
            left = await unfinished()
            lost = lost_in_jasmin() if left else set()
            return all(status == "sent" and to.removeprefix("+") in lost for to, status in left)

        try:
            await wait_until("every message sent", all_sent, 180)
            await wait_until("every message final", all_final, 180)
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {dict(await statuses())}\n{jasmin.logs_tail()}") from exc
        final_seconds = time.monotonic() - started
        lost = lost_in_jasmin()

        # Our records: every message went out through Jasmin, with the status its receipt says.
        async with sessions() as session:
            messages = {
                m.sid: m
                for m in (await session.execute(select(Message).where(Message.direction != "inbound"))).scalars()
            }
            parts = list((await session.execute(select(SmppPart))).scalars())
            parked = (await session.execute(select(func.count()).select_from(SmppParkedReceipt))).scalar_one()
        assert parked == 0, f"{parked} receipts from Jasmin matched no part"
        assert set(messages) == set(accepted)
        wrong = []
        for sid, m in accepted.items():
            got = messages[sid]
            if got.status == "sent" and m.smsc_destination in lost:
                continue
            want = ("undelivered", 30003) if m.smsc_destination in undeliverable else ("delivered", None)
            if (got.status, got.error_code, got.carrier, got.num_segments) != (*want, "jasmin", m.parts) or (
                got.date_sent is None
            ):
                wrong.append((m.n, got.status, got.error_code, got.carrier, got.num_segments, m.parts))
        assert not wrong, wrong[:10]
        assert len(parts) == sum(m.parts for m in plan)
        assert all(p.state == "sent" and p.carrier_message_id for p in parts)
        receipted = [p for p in parts if messages[p.message_sid].status in FINAL]
        assert all(p.receipt_state for p in receipted)
        lags = sorted(
            (m.date_updated - m.date_sent).total_seconds()
            for m in messages.values()
            if m.status in FINAL and m.date_sent
        )
        resent_by_us = [p for p in parts if p.attempts != 1]

        # The SMSC behind Jasmin: every part once, none twice, intact.
        stats = await smsc.stats()
        by_destination: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for submit in smsc.accepted():
            by_destination[submit["destination_addr"]].append(submit)
        assert stats["duplicates"] == 0, stats
        assert stats["accepted"] == sum(m.parts for m in plan), stats
        mangled: list[tuple[Any, ...]] = []
        for m in plan:
            submits = by_destination.get(m.smsc_destination, [])
            if sorted(int(s["part"]) for s in submits) != list(range(1, m.parts + 1)):
                mangled.append((m.n, "parts", [s["part"] for s in submits]))
            elif decode_at_smsc(submits) != m.body:
                mangled.append((m.n, "text", decode_at_smsc(submits), m.body))
        assert not mangled, mangled[:5]

        # MO: the SMSC → Jasmin's smppc connector → MO route → our bind → an inbound message.
        mo = ["MO hello through Jasmin", "MO привет ✓"]
        for n, (text, coding, codec) in enumerate([(mo[0], 0, "ascii"), (mo[1], 8, "utf-16-be")]):
            smsc.send_mo(
                source_addr=f"1444000000{n}",
                destination_addr=SENDER[1:],
                short_message=text.encode(codec),
                data_coding=coding,
                tag=f"mo{n}",
            )
        # A concatenated MO (UDH, 8-bit reference): Jasmin joins the parts itself before routing it.
        halves = ["Concatenated MO part one, ", "and part two."]
        for seq, half in enumerate(halves, 1):
            udh = bytes([5, 0, 3, 0x42, len(halves), seq])
            smsc.send_mo(
                source_addr="14440000009",
                destination_addr=SENDER[1:],
                short_message=udh + half.encode("ascii"),
                esm_class=0x40,
                tag=f"concat{seq}",
            )
        mo.append("".join(halves))

        async def inbound() -> list[str]:
            async with sessions() as session:
                rows = await session.execute(select(Message.body).where(Message.direction == "inbound"))
                return sorted(rows.scalars())

        async def all_inbound() -> bool:
            return len(await inbound()) >= len(mo)

        try:
            await wait_until("every MO received", all_inbound, 60)
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {await inbound()}\n{jasmin.logs_tail()}") from exc
        assert await inbound() == sorted(mo)

        assert not resent_by_us, [(p.message_sid, p.part_index, p.attempts) for p in resent_by_us][:10]
        with capsys.disabled():
            total_parts = sum(m.parts for m in plan)
            print(
                f"\nJasmin soak: {total} messages ({total_parts} parts) accepted in {accept_seconds:.1f}s "
                f"({total / accept_seconds:.1f} msg/s); all sent after {sent_seconds:.1f}s, all final after "
                f"{final_seconds:.1f}s ({total / final_seconds:.1f} msg/s, {total_parts / final_seconds:.1f} "
                f"parts/s end to end); sent → final p50 {lags[len(lags) // 2]:.1f}s, max {lags[-1]:.1f}s; "
                f"{len(undeliverable)} undelivered as scripted; {len(mo)} MO received; "
                f"{len(lost)} receipts dropped inside Jasmin"
            )
        assert await server.stop() == 0

        # SIGTERM: the worker unbinds both sessions from Jasmin on its way out.
        worker.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(worker.wait(), 30) == 0, (tmp_path / "worker.log").read_text()

        async def unbound() -> bool:
            return binds_at_jasmin("Dropped") >= 2

        await wait_until("both binds dropped at Jasmin", unbound, 10)
    finally:
        if worker is not None and worker.returncode is None:
            worker.send_signal(signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(worker.wait(), 20)
            if worker.returncode is None:
                worker.kill()
                await worker.wait()
        await servers.close()
        await jasmin.stop()
        await jasmin.delete_queues(*(f"submit.sm.{run}c{n}" for n in range(SMSC_CONNECTORS)))
        await smsc.stop()
        await engine.dispose()
