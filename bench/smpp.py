"""bench/smpp: end to end through SMPP — API accept → submit_sm → receipt → status callback.

    .venv/bin/python bench/smpp.py [--messages 20000] [--concurrency 64] [--binds 2] [--window 64]
                                   [--receipt-delay-ms 200] [--worker-processes N] [--no-callbacks]
                                   [--pg-admin postgresql://postgres@127.0.0.1:5432/postgres]

On a fresh PostgreSQL database (created on ``--pg-admin``'s server, dropped afterwards) it
starts the scripted SMSC (tests/fakes/smsc, quiet mode: counters only), a status-callback
sink in this process, and one ``mx serve`` with its in-process workers; adds the SMSC as a
carrier with ``mx carriers add`` and routes everything to it, then posts ``--messages``
messages (each with a status callback, each to its own number) from ``--concurrency``
keep-alive connections as fast as they are answered. It waits until every accepted
message's ``delivered`` callback has arrived (or 120 s pass) and prints one line:

- accept/s: accepted ÷ time to accept them all;
- delivered in the database: messages ``delivered`` (receipt applied) ÷ time from the
  first request until the last of them — API, dispatch, SMPP and receipts;
- e2e msg/s: ``delivered`` callbacks ÷ time from the first request to the last callback —
  the sustained rate with submits, receipts and callbacks all processed;
- lost: accepted messages without a ``delivered`` callback; dup parts: parts the SMSC
  acknowledged twice (must be 0);
- the server's and the SMSC's CPU use.

``--worker-processes N`` runs the pipeline (dispatch, the SMPP binds, receipts, callbacks)
in N ``mx worker`` processes beside an API-only server (``MX_RUN_WORKERS=false``): the
PostgreSQL deployment, using the second core. The binds are shared out among them (bind
slots are leased per carrier), so give ``--binds`` ≥ N.

``--no-callbacks`` sends without ``status_callback``: the pipeline alone (API, dispatch, SMPP,
receipts), to tell its cost from the callbacks'.

``--connector-only`` measures the SMPP connector alone, in this process: messages are
inserted already ``sent`` (no API, no dispatch job, no callback), then handed to
``SmppCarrier.submit`` by ``--concurrency`` tasks; the figures are submits/s (each waits
for its part records to commit) and receipts applied/s (until every message is
``delivered`` in the database).

Loopback only; stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode

import uvloop

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from accept import (  # noqa: E402
    HOST,
    Connection,
    Server,
    activity_per_message,
    cpu_seconds,
    free_port,
    mx,
    own_cpu,
    postgres_cpu,
    postgres_database,
    table_activity,
    worker_processes,
)

from tests.fakes.smsc import FakeSmsc  # noqa: E402

SENDER = "+15557770001"


class CallbackSink:
    """A minimal HTTP/1.1 server that counts ``delivered`` status callbacks by message sid."""

    def __init__(self) -> None:
        self.delivered: set[str] = set()
        self.statuses: dict[str, int] = {}
        self.last_at = 0.0
        self.port = free_port()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, HOST, self.port, backlog=1024)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, *lines = head.decode("latin-1").split("\r\n")
                length = 0
                for line in lines:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                body = (await reader.readexactly(length)).decode() if length else ""
                target = request_line.split(" ")[1]
                query = target.partition("?")[2]
                params = parse_qs(query or body)
                status = params.get("MessageStatus", [""])[0]
                self.statuses[status] = self.statuses.get(status, 0) + 1
                if status == "delivered":
                    self.delivered.add(params["MessageSid"][0])
                    self.last_at = time.monotonic()
                writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def requests(account: str, token: str, port: int, callback: str, count: int) -> list[bytes]:
    import base64

    auth = base64.b64encode(f"{account}:{token}".encode()).decode()
    head = (
        f"POST /api/2012-04-24/Accounts/{account}/Messages HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
        f"Authorization: Basic {auth}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: "
    )
    out = []
    for n in range(count):
        body = urlencode(
            {
                "from": f"sms:{SENDER}",
                "to": f"sms:+1556{n:07d}",
                "body": "Hello from bench/smpp",
                **({"status_callback": callback} if callback else {}),
            }
        )
        out.append(f"{head}{len(body)}\r\n\r\n{body}".encode())
    return out


async def drive(port: int, reqs: list[bytes], concurrency: int) -> tuple[int, int, float]:
    conns = [await Connection.open(port) for _ in range(concurrency)]
    queue = iter(reqs)
    ok = bad = 0

    async def loop(conn: Connection) -> None:
        nonlocal ok, bad
        for data in queue:
            if 200 <= await conn.request(data) < 300:
                ok += 1
            else:
                bad += 1

    started = time.monotonic()
    await asyncio.gather(*(loop(conn) for conn in conns))
    elapsed = time.monotonic() - started
    for conn in conns:
        conn.close()
    return ok, bad, elapsed


async def wait_bound(url: str, binds: int, holders: int) -> None:
    """Until ``binds`` slots are leased by ``holders`` processes (worker processes share them out)."""
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            rows = await conn.fetch("SELECT holder FROM smpp_bind_leases WHERE lease_until > now()")
            if len(rows) >= binds and len({row["holder"] for row in rows}) >= holders:
                await asyncio.sleep(1)  # the sessions of the last slots taken are bound by now
                return
            await asyncio.sleep(0.2)
        raise SystemExit("the binds were not taken (see the worker / server logs)")
    finally:
        await conn.close()


async def wait_delivered_in_db(
    url: str, target: int, started: float, sink: CallbackSink, *, callbacks: bool = True
) -> tuple[int, float]:
    """Poll until ``target`` messages are ``delivered`` in the database and as callbacks (120 s at most).

    Returns (delivered in the database, seconds from the start until the last of them).
    """
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        deadline = time.monotonic() + 120
        in_db, db_at = 0, float("inf")
        while time.monotonic() < deadline:
            if in_db < target:
                count = int(await conn.fetchval("SELECT count(*) FROM messages WHERE status = 'delivered'"))
                if count != in_db:
                    in_db, db_at = count, time.monotonic() - started
            if in_db >= target and (len(sink.delivered) >= target or not callbacks):
                break
            await asyncio.sleep(0.2)
        return in_db, db_at
    finally:
        await conn.close()


async def timeline(url: str) -> str:
    """When 10 %, 50 %, 90 % and all of the messages reached each stage, in seconds from the first
    message's creation: where a backlog builds up (``--timeline``)."""
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    stages = (
        ("created", "SELECT date_created AS at FROM messages"),
        ("sending", "SELECT occurred_at AS at FROM message_events WHERE status = 'sending'"),
        ("sent", "SELECT occurred_at AS at FROM message_events WHERE status = 'sent'"),
        ("delivered", "SELECT occurred_at AS at FROM message_events WHERE status = 'delivered'"),
        ("callback created", "SELECT created_at AS at FROM webhook_deliveries"),
        ("callback done", "SELECT finished_at AS at FROM webhook_deliveries"),
    )
    try:
        zero = await conn.fetchval("SELECT min(date_created) FROM messages")
        out = []
        for name, query in stages:
            row = await conn.fetchrow(
                "SELECT percentile_cont(ARRAY[0.1, 0.5, 0.9, 1.0]) WITHIN GROUP (ORDER BY extract(epoch FROM at - $1))"
                f" AS p FROM ({query}) AS stage",
                zero,
            )
            if row["p"] is not None:
                out.append(f"{name} " + "/".join(f"{v:.1f}" for v in row["p"]))
        return "timeline, s from the first message (p10/p50/p90/max): " + "; ".join(out)
    finally:
        await conn.close()


async def run(args: argparse.Namespace, env: dict[str, str], tmp: Path) -> str:
    smsc = await FakeSmsc(
        {"quiet": True, "receipts": {"mode": args.receipts, "delay_ms": args.receipt_delay_ms}}
    ).start()
    sink = CallbackSink()
    await sink.start()
    server = Server({**env, "MX_RUN_WORKERS": "false"} if args.worker_processes else env, tmp / "serve.log")
    workers: list[subprocess.Popen[bytes]] = []
    stack = contextlib.ExitStack()  # the worker processes, stopped before the server
    try:
        server.wait_ready()
        account = mx(env, "accounts", "create", "--email", "bench@example.com", "--password", "bench-pass", "--json")
        mx(env, "numbers", "add", "--account", account["sid"], "--number", SENDER, "--json")
        mx(
            env, "carriers", "add", "--name", "smsc", "--host", HOST, "--port", str(smsc.port),
            "--system-id", "esme", "--password", "secret", "--binds", str(args.binds), "--window", str(args.window),
            "--bind-lease-seconds", "3",  # worker processes share the binds out within seconds
        )  # fmt: skip
        mx(env, "carriers", "route", "add", "--carrier", "smsc")
        workers = stack.enter_context(worker_processes(env, tmp, args.worker_processes))
        await asyncio.sleep(3)  # the server re-reads routes and connections every MX_CARRIER_RELOAD_SECONDS
        await wait_bound(env["MX_DATABASE_URL"], args.binds, min(args.binds, max(args.worker_processes, 1)))
        callback = "" if args.no_callbacks else f"http://{HOST}:{sink.port}/cb"
        reqs = requests(account["sid"], account["auth_token"], server.port, callback, args.messages)
        pids = [server.process.pid, *(w.pid for w in workers)]
        cpu_before = sum(cpu_seconds(pid) for pid in pids)
        others_before = own_cpu(), cpu_seconds(smsc.pid), postgres_cpu()
        tables_before = await table_activity(env["MX_DATABASE_URL"]) if args.db_stats else {}
        started = time.monotonic()
        ok, bad, accept_elapsed = await drive(server.port, reqs, args.concurrency)
        db_done = await wait_delivered_in_db(env["MX_DATABASE_URL"], ok, started, sink, callbacks=not args.no_callbacks)
        e2e = (sink.last_at - started) if sink.delivered else db_done[1]
        cpu = sum(cpu_seconds(pid) for pid in pids) - cpu_before
        bench_cpu, smsc_cpu, pg_cpu = (
            now - before
            for now, before in zip((own_cpu(), cpu_seconds(smsc.pid), postgres_cpu()), others_before, strict=True)
        )
        stats = await smsc.stats()
        if args.db_stats:
            await asyncio.sleep(1.5)  # PostgreSQL publishes its counters at most once a second
            tables = activity_per_message(tables_before, await table_activity(env["MX_DATABASE_URL"]), ok)
            print(f"database rows and commits per message: {tables}")
        if args.timeline:
            print(await timeline(env["MX_DATABASE_URL"]))
        return (
            f"smpp e2e: accepted {ok} ({bad} refused) at {ok / accept_elapsed:,.0f}/s; "
            f"delivered in the database {db_done[0]} in {db_done[1]:.1f}s = {db_done[0] / db_done[1]:,.0f} msg/s; "
            f"delivered callbacks {len(sink.delivered)} in {e2e:.1f}s = {len(sink.delivered) / e2e:,.0f} msg/s; "
            f"lost {ok - (db_done[0] if args.no_callbacks else len(sink.delivered))}; "
            f"submits {stats['submits']} accepted {stats['accepted']} "
            f"dup parts {stats['duplicates']}; receipts {stats['receipts']}; "
            f"{'server' if not workers else f'server + {len(workers)} mx worker'} CPU {cpu / e2e:.0%} of a core; "
            f"PostgreSQL {pg_cpu / e2e:.0%}, SMSC {smsc_cpu / e2e:.0%}, this script (clients, callback sink) "
            f"{bench_cpu / e2e:.0%}; callbacks by status {dict(sorted(sink.statuses.items()))}"
        )
    finally:
        stack.close()
        server.stop()
        with contextlib.suppress(OSError):  # kept for a look after the temp dir is gone
            (Path(tempfile.gettempdir()) / "bench-smpp-serve.log").write_bytes((tmp / "serve.log").read_bytes())
        sink.server.close()
        await smsc.stop()


async def connector_only(args: argparse.Namespace, env: dict[str, str]) -> str:
    from datetime import UTC, datetime

    from sqlalchemy import func, insert, select

    from message_exchange.carriers.base import CarrierRuntime, OutboundMessage
    from message_exchange.carriers.smpp.carrier import SmppCarrier
    from message_exchange.config import Settings
    from message_exchange.core.crypto import SecretBox
    from message_exchange.db.engine import create_engine, create_session_factory
    from message_exchange.messages.models import Message

    account = mx(env, "accounts", "create", "--email", "bench@example.com", "--password", "bench-pass", "--json")
    url, key = env["MX_DATABASE_URL"], env["MX_SECRET_KEY"]
    engine = create_engine(url)
    factory = create_session_factory(engine)
    settings = Settings(database_url=url, secret_key=key, run_workers=False)  # type: ignore[arg-type]
    runtime = CarrierRuntime(settings, factory, SecretBox(key.encode()), "bench")
    smsc = await FakeSmsc(
        {"quiet": True, "receipts": {"mode": args.receipts, "delay_ms": args.receipt_delay_ms}}
    ).start()
    config = smsc.config("smsc", binds=args.binds, window=args.window, response_timeout_seconds=30.0)
    carrier = SmppCarrier(config, runtime)
    try:
        await carrier.start()
        while len(carrier._sessions) < args.binds:  # noqa: ASYNC110 - polling a counter
            await asyncio.sleep(0.05)
        now = datetime.now(UTC)
        sids = [f"SM{n:032x}" for n in range(args.messages)]
        rows = [
            {
                "sid": sid, "account_sid": account["sid"], "direction": "outbound-api", "channel": "sms",
                "from_address": SENDER, "to_address": f"+1556{n:07d}", "body": "Hello from bench/smpp",
                "media": [], "num_segments": 1, "status": "sent", "price_unit": "USD", "status_callback_method": "GET",
                "api_version": "2012-04-24", "created_via": "messages", "date_created": now, "date_updated": now,
            }
            for n, sid in enumerate(sids)
        ]  # fmt: skip
        async with factory() as session, session.begin():
            for start in range(0, len(rows), 1000):
                await session.execute(insert(Message), rows[start : start + 1000])
        gate = asyncio.Semaphore(args.concurrency)

        async def one(n: int, sid: str) -> None:
            async with gate:
                await carrier.submit(
                    OutboundMessage(sid, account["sid"], "sms", SENDER, f"+1556{n:07d}", "Hello from bench/smpp")
                )

        started = time.monotonic()
        await asyncio.gather(*(one(n, sid) for n, sid in enumerate(sids)))
        submitted = time.monotonic() - started
        delivered = 0
        deadline = time.monotonic() + 120
        while delivered < len(sids) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            async with factory() as session:
                query = select(func.count()).select_from(Message).where(Message.status == "delivered")
                delivered = int((await session.execute(query)).scalar_one())
        done = time.monotonic() - started
        stats = await smsc.stats()
        return (
            f"smpp connector: {len(sids)} submits in {submitted:.1f}s = {len(sids) / submitted:,.0f}/s "
            f"(binds {args.binds}, window {args.window}, concurrency {args.concurrency}); "
            f"delivered {delivered} in {done:.1f}s = {delivered / done:,.0f} msg/s; lost {len(sids) - delivered}; "
            f"dup parts {stats['duplicates']}"
        )
    finally:
        await carrier.stop()
        await smsc.stop()
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--binds", type=int, default=2)
    parser.add_argument("--window", type=int, default=64)
    parser.add_argument("--receipt-delay-ms", type=int, default=200)
    parser.add_argument("--receipts", default="text", help="text | tlv | none")
    parser.add_argument("--workers", type=int, default=16, help="MX_WORKER_CONCURRENCY")
    parser.add_argument(
        "--worker-processes",
        type=int,
        default=0,
        help="run the pipeline in this many `mx worker` processes beside the API server (MX_RUN_WORKERS=false)",
    )
    parser.add_argument("--connector-only", action="store_true", help="the SMPP connector alone (no API, no jobs)")
    parser.add_argument("--no-callbacks", action="store_true", help="send without status callbacks")
    parser.add_argument("--timeline", action="store_true", help="print when each stage was reached")
    parser.add_argument("--db-stats", action="store_true", help="print rows written and commits per message")
    parser.add_argument("--pg-admin", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    from cryptography.fernet import Fernet

    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "MX_DATA_DIR": tmp}
        for key in [k for k in env if k.startswith("MX_")]:
            if key != "MX_DATA_DIR":
                del env[key]
        env["MX_DATABASE_URL"] = stack.enter_context(postgres_database(args.pg_admin))
        env["MX_SECRET_KEY"] = Fernet.generate_key().decode()
        env["MX_WEBHOOK_ALLOW_PRIVATE"] = "true"
        env["MX_WORKER_CONCURRENCY"] = str(args.workers)
        env["MX_LOG_LEVEL"] = "WARNING"
        mx(env, "db", "upgrade")
        if args.connector_only:
            print(asyncio.run(connector_only(args, env)))
        else:
            print(uvloop.run(run(args, env, Path(tmp))))  # the clients and the sink cost less CPU on uvloop


if __name__ == "__main__":
    main()
