"""bench/floor: the least CPU one end-to-end message can cost on this stack — issue 4's ceiling.

    .venv/bin/python bench/floor.py [--messages 10000] [--concurrency 64] [--batch 200]
                                    [--parts http,smpp,callbacks,postgres]
                                    [--pg-admin postgresql://postgres@127.0.0.1:5432/postgres]

bench/smpp measures the product; this measures the same work with every bit of the
product's own logic taken out, to show how much CPU a message needs *at the least* with
the libraries and database the product runs on. Each message of bench/smpp is:

1. **http**: one form POST answered ``201`` with a JSON body. Here: a raw ASGI app (no
   FastAPI, no auth, no validation: it parses the form and answers) under uvicorn with
   uvloop + httptools, as ``mx serve`` runs; the client is bench/smpp's own load generator.
2. **smpp**: a submit_sm, its submit_sm_resp, a deliver_sm receipt and its deliver_sm_resp.
   Here: ``smpp34.Client`` straight to the scripted SMSC (tests/fakes/smsc), no window
   accounting, no part records, no receipt parsing.
3. **callbacks** ×3: a signed form POST (X-Twilio-Signature) each for ``sending``, ``sent``
   and ``delivered``. Here: a bare ``aiohttp`` session posting pre-built params, signed with
   the product's HMAC, to bench/smpp's callback sink.
4. **postgres**: the rows bench/smpp ``--db-stats`` counts per message — 11 inserted (the
   message, its part, 3 history events, 3 callback deliveries, 3 attempts) and 7 updated
   (message ×2, part ×2, deliveries ×3) — written with ``asyncpg``, a statement a table and
   stage taking the batch's values as arrays (``unnest``), in batches of ``--batch``
   messages, 5 transactions a batch (the product commits 0.2 times
   a message; this is 0.025), on the real schema (``mx db upgrade``).

Each part runs alone, its processes measured from /proc (PostgreSQL: every ``postgres``
process, background writers included). The line printed sums them into CPU per message —
ours (what ``mx`` would run) and the harness's (load generator, SMSC, callback sink) — and
the rate two cores could give if they did nothing else: ``2 cores ÷ total``.

Loopback only; stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import uvloop

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from accept import HOST, cpu_seconds, free_port, mx, own_cpu, postgres_cpu, postgres_database  # noqa: E402
from smpp import CallbackSink, drive, requests  # noqa: E402

CORES = 2
CALLBACKS_PER_MESSAGE = 3


def report(line: str) -> None:
    print(f"  {line}", file=sys.stderr)


def us(seconds: float, count: int) -> str:
    return f"{seconds / count * 1e6:.0f} µs"


class Part:
    """CPU seconds one part used: ours (what the product would run) and the harness's."""

    def __init__(self, name: str, messages: int, ours: float, harness: float, postgres: float = 0.0) -> None:
        self.name, self.messages = name, messages
        self.ours, self.harness, self.postgres = ours, harness, postgres

    def ms(self, seconds: float) -> float:
        return seconds / self.messages * 1000


async def measured(
    work: Callable[[], Awaitable[None]], pids: list[int], *, postgres: bool = False
) -> tuple[float, float, list[float], float]:
    """Run ``work``; this process's CPU, the elapsed time, each pid's CPU and PostgreSQL's."""
    own0, pids0, pg0, t0 = (
        own_cpu(),
        [cpu_seconds(p) for p in pids],
        postgres_cpu() if postgres else 0.0,
        time.monotonic(),
    )
    await work()
    elapsed = time.monotonic() - t0
    pg = postgres_cpu() - pg0 if postgres else 0.0
    return own_cpu() - own0, elapsed, [cpu_seconds(p) - c for p, c in zip(pids, pids0, strict=True)], pg


# --- 1. the API request ------------------------------------------------------------------


async def asgi_app(
    scope: dict[str, Any],
    receive: Callable[[], Awaitable[dict[str, Any]]],
    send: Callable[[dict[str, Any]], Awaitable[None]],
) -> None:
    import orjson

    if scope["type"] != "http":
        return
    body = b""
    while True:
        event = await receive()
        body += event.get("body", b"")
        if not event.get("more_body"):
            break
    params = dict(parse_qsl(body.decode()))
    out = orjson.dumps(
        {"sid": "SM" + secrets.token_hex(16), "to": params["to"], "body": params["body"], "status": "queued"}
    )
    await send({"type": "http.response.start", "status": 201, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": out})


def serve_asgi(port: int) -> None:
    import uvicorn

    uvicorn.run(
        asgi_app,
        host=HOST,
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        log_level="warning",
        access_log=False,
    )


async def http_part(args: argparse.Namespace) -> Part:
    port = free_port()
    server = await asyncio.create_subprocess_exec(sys.executable, __file__, "--serve-asgi", str(port))
    try:
        for _ in range(100):
            try:
                _, writer = await asyncio.open_connection(HOST, port)
                writer.close()
                break
            except OSError:
                await asyncio.sleep(0.1)
        reqs = requests("AC" + "0" * 32, "token", port, f"http://{HOST}:9/callback", args.messages)
        await drive(port, reqs[:1000], args.concurrency)  # warm up

        async def work() -> None:
            ok, bad, _ = await drive(port, reqs, args.concurrency)
            assert ok == args.messages and not bad, (ok, bad)

        client, elapsed, (srv,), _ = await measured(work, [server.pid])
    finally:
        server.terminate()
        await server.wait()
    n = args.messages
    report(f"http: {n / elapsed:,.0f} req/s; server {us(srv, n)}, load generator {us(client, n)} a request")
    return Part("http", args.messages, srv, client)


# --- 2. SMPP ---------------------------------------------------------------------------------


async def smpp_part(args: argparse.Namespace) -> Part:
    import smpp34

    from tests.fakes.smsc import FakeSmsc

    smsc = await FakeSmsc({"quiet": True, "receipts": {"mode": "text", "delay_ms": 0}}).start()
    try:
        binds = []
        for _ in range(2):
            client = smpp34.Client(HOST, smsc.port, "esme", "secret", bind_type="TRX", window_size=64)
            binds.append(await client.connect())
        receipts = 0
        done = asyncio.Event()
        target = 0

        async def pump(session: Any) -> None:
            nonlocal receipts
            while not isinstance(await session.next(), smpp34.Disconnected):
                receipts += 1
                if receipts >= target:
                    done.set()

        pumps = [asyncio.create_task(pump(s)) for s in binds for _ in range(2)]

        async def send(count: int) -> None:
            nonlocal target, receipts
            receipts, target = 0, count
            done.clear()
            numbers = iter(range(count))

            async def loop(session: Any) -> None:
                for n in numbers:
                    await session.submit_sm(
                        destination_addr=f"1556{n:07d}",
                        source_addr="15557770001",
                        short_message=b"Hello from bench/smpp",
                        source_addr_ton=1,
                        source_addr_npi=1,
                        dest_addr_ton=1,
                        dest_addr_npi=1,
                        registered_delivery=1,
                    )

            await asyncio.gather(*(loop(binds[i % 2]) for i in range(args.concurrency)))
            await asyncio.wait_for(done.wait(), 120)

        await send(1000)  # warm up
        client_cpu, elapsed, (smsc_cpu,), _ = await measured(lambda: send(args.messages), [smsc.pid])
        for task in pumps:
            task.cancel()
    finally:
        await smsc.stop()
    n = args.messages
    report(f"smpp: {n / elapsed:,.0f} msg/s; ESME {us(client_cpu, n)}, SMSC {us(smsc_cpu, n)} a message")
    return Part("smpp", args.messages, client_cpu, smsc_cpu)


# --- 3. status callbacks ------------------------------------------------------------------------


async def send_callbacks(port: int, count: int, concurrency: int) -> None:
    """The sender's side (a process of its own): 3,000 warm-up requests, a line ``warm``,
    then ``count`` requests and a line with their CPU seconds and elapsed seconds."""
    import aiohttp

    from message_exchange.webhooks.signing import twilio_signature

    url = f"http://{HOST}:{port}/callback"
    token = secrets.token_hex(16)
    connector = aiohttp.TCPConnector(limit=200, keepalive_timeout=30)
    async with aiohttp.ClientSession(connector=connector, headers={"User-Agent": "MessageExchange/0.1"}) as session:

        async def run(count: int) -> None:
            numbers = iter(range(count))

            async def loop() -> None:
                for n in numbers:
                    params = {
                        "MessageSid": f"SM{n:032x}",
                        "SmsSid": f"SM{n:032x}",
                        "AccountSid": "AC" + "0" * 32,
                        "From": "+15557770001",
                        "To": f"+1556{n:07d}",
                        "Body": "Hello from bench/smpp",
                        "MessageStatus": ("sending", "sent", "delivered")[n % 3],
                        "SmsStatus": "sent",
                        "ApiVersion": "2012-04-24",
                        "NumSegments": "1",
                    }
                    headers = {
                        "X-Twilio-Signature": twilio_signature(token, url, params),
                        "Content-Type": "application/x-www-form-urlencoded",
                    }
                    async with session.post(url, data=urlencode(params).encode("ascii"), headers=headers) as resp:
                        await resp.read()
                        if resp.status != 204:
                            raise SystemExit(f"the sink answered {resp.status}")

            await asyncio.gather(*(loop() for _ in range(concurrency)))

        await run(3000)
        print("warm", flush=True)
        cpu0, t0 = own_cpu(), time.monotonic()
        await run(count)
        print(own_cpu() - cpu0, time.monotonic() - t0, flush=True)


async def callbacks_part(args: argparse.Namespace) -> Part:
    sink = CallbackSink()
    await sink.start()
    count = args.messages * CALLBACKS_PER_MESSAGE
    try:
        sender = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--send-callbacks",
            str(sink.port),
            str(count),
            str(args.concurrency),
            stdout=asyncio.subprocess.PIPE,
        )
        assert sender.stdout is not None
        if (await sender.stdout.readline()).strip() != b"warm":
            raise SystemExit("the callback sender failed")
        before = sum(sink.statuses.values())
        sink0 = own_cpu()
        figures = (await sender.stdout.readline()).split()
        sink_cpu = own_cpu() - sink0
        await sender.wait()
        sender_cpu, elapsed = float(figures[0]), float(figures[1])
    finally:
        sink.server.close()
    if sum(sink.statuses.values()) - before != count:
        raise SystemExit("the sink did not get every callback")
    report(
        f"callbacks: {count / elapsed:,.0f} req/s; sender {us(sender_cpu, count)}, sink {us(sink_cpu, count)} a request"
    )
    return Part("callbacks", args.messages, sender_cpu, sink_cpu)


# --- 4. PostgreSQL --------------------------------------------------------------------------------


# Each statement takes a batch's values as arrays (unnest): one execution a table and stage,
# the cheapest way found here to write many rows (executemany: 410 µs of PostgreSQL a message).
MESSAGE_INSERT = """
INSERT INTO messages (sid, account_sid, direction, channel, from_address, to_address, body, media, num_segments,
    status, price_unit, status_callback, status_callback_method, api_version, created_via, date_created,
    date_updated, options)
SELECT sid, $2, 'outbound-api', 'sms', '+15557770001', to_address, 'Hello from bench/smpp', '[]', 1, 'queued', 'USD',
    'http://127.0.0.1:9/cb', 'POST', '2012-04-24', 'api', $3, $3, '{}'
FROM unnest($1::text[], $4::text[]) AS u(sid, to_address)"""
PART_INSERT = """
INSERT INTO smpp_parts (message_sid, carrier, part_index, total_parts, state, attempts, submitted_at)
SELECT sid, 'smsc', 0, 1, 'submitting', 1, $2 FROM unnest($1::text[]) AS u(sid)"""
PART_SENT = """
UPDATE smpp_parts SET state = 'sent', carrier_message_id = u.id_hex, id_hex = u.id_hex, id_dec = u.id_dec,
    command_status = 0, sent_at = $4
FROM unnest($1::text[], $2::text[], $3::text[]) AS u(sid, id_hex, id_dec)
WHERE message_sid = u.sid AND carrier = 'smsc' AND part_index = 0"""
MESSAGE_SENT = """
UPDATE messages SET status = 'sent', carrier = 'smsc', carrier_message_id = u.id_hex, date_updated = $3, date_sent = $3
FROM unnest($1::text[], $2::text[]) AS u(sid, id_hex) WHERE messages.sid = u.sid"""
PART_RECEIPT = """
UPDATE smpp_parts SET receipt_state = 'DELIVRD', receipt_error = '000', receipt_at = $2
WHERE message_sid = ANY($1::text[]) AND carrier = 'smsc' AND part_index = 0"""
MESSAGE_DELIVERED = "UPDATE messages SET status = 'delivered', date_updated = $2 WHERE sid = ANY($1::text[])"
EVENT_INSERT = """
INSERT INTO message_events (id, message_sid, status, carrier, occurred_at)
SELECT id, sid, $3, 'smsc', $4 FROM unnest($1::text[], $2::text[]) AS u(id, sid)"""
DELIVERY_INSERT = """
INSERT INTO webhook_deliveries (sid, account_sid, resource_sid, purpose, url, method, params, body_format, status,
    attempts, created_at, updated_at)
SELECT sid, $2, resource_sid, 'status_callback', 'http://127.0.0.1:9/cb', 'POST', params::json, 'form', 'pending', 0,
    $3, $3
FROM unnest($1::text[], $4::text[], $5::text[]) AS u(sid, resource_sid, params)"""
DELIVERY_DONE = """
UPDATE webhook_deliveries SET status = 'delivered', attempts = 1, last_status_code = 204, updated_at = $2,
    finished_at = $2
WHERE sid = ANY($1::text[])"""
ATTEMPT_INSERT = """
INSERT INTO webhook_attempts (delivery_sid, attempt, started_at, duration_ms, status_code)
SELECT sid, 1, $2, 2, 204 FROM unnest($1::text[]) AS u(sid)"""


async def write_batch(conn: Any, account: str, first: int, size: int) -> None:
    """The rows of ``size`` messages through their life: accepted, sending, sent, delivered,
    three callbacks sent — five transactions."""
    now = datetime.now(UTC)
    sids = [f"SM{first + n:032x}" for n in range(size)]
    id_hex = [f"{first + n:x}" for n in range(size)]
    deliveries = [[f"WD{first + n:030x}{k:02x}" for n in range(size)] for k in range(3)]
    async with conn.transaction():  # intake
        await conn.execute(MESSAGE_INSERT, sids, account, now, [f"+1556{first + n:07d}" for n in range(size)])
    for stage, status in enumerate(("sending", "sent", "delivered")):
        async with conn.transaction():
            if status == "sending":
                await conn.execute(PART_INSERT, sids, now)
            elif status == "sent":
                await conn.execute(PART_SENT, sids, id_hex, [str(first + n) for n in range(size)], now)
                await conn.execute(MESSAGE_SENT, sids, id_hex, now)
            else:
                await conn.execute(PART_RECEIPT, sids, now)
                await conn.execute(MESSAGE_DELIVERED, sids, now)
            await conn.execute(EVENT_INSERT, [f"EV{first + n:030x}{stage:02x}" for n in range(size)], sids, status, now)
            params = [f'{{"MessageSid": "{sid}", "MessageStatus": "{status}"}}' for sid in sids]
            await conn.execute(DELIVERY_INSERT, deliveries[stage], account, now, sids, params)
    async with conn.transaction():  # the callbacks sent
        every = [d for stage in deliveries for d in stage]
        await conn.execute(DELIVERY_DONE, every, now)
        await conn.execute(ATTEMPT_INSERT, every, now)


async def postgres_part(args: argparse.Namespace) -> Part:
    import asyncpg
    from cryptography.fernet import Fernet

    stack = contextlib.ExitStack()  # the database is dropped in a thread: its helper runs its own loop
    try:
        url = await asyncio.to_thread(stack.enter_context, postgres_database(args.pg_admin))
        env = {**os.environ, "MX_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
        upgrade = await asyncio.create_subprocess_exec(
            Path(sys.executable).parent / "mx", "db", "upgrade", env=env, stdout=asyncio.subprocess.DEVNULL
        )
        if await upgrade.wait():
            raise SystemExit("mx db upgrade failed")
        env["MX_SECRET_KEY"] = Fernet.generate_key().decode()
        account = (
            await asyncio.to_thread(
                mx, env, "accounts", "create", "--email", "floor@example.com", "--password", "floor-pass", "--json"
            )
        )["sid"]
        # A statement runs once a batch: planning it each time (with the table's size then) is
        # cheap, and a generic plan made while the tables were small would scan them whole.
        settings = {"plan_cache_mode": "force_custom_plan"}
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"), server_settings=settings)
        try:

            async def run(first: int, count: int) -> None:
                for start in range(first, first + count, args.batch):
                    await write_batch(conn, account, start, min(args.batch, first + count - start))

            await run(0, 5000)  # warm up, then statistics as a running database has them
            await conn.execute("ANALYZE")
            client, elapsed, _, pg = await measured(lambda: run(10_000_000, args.messages), [], postgres=True)
        finally:
            await conn.close()
    finally:
        await asyncio.to_thread(stack.close)
    n = args.messages
    report(f"postgres: {n / elapsed:,.0f} msg/s; PostgreSQL {us(pg, n)}, client (asyncpg) {us(client, n)} a message")
    return Part("postgres", args.messages, client, 0.0, pg)


async def main_async(args: argparse.Namespace) -> str:
    runners = {"http": http_part, "smpp": smpp_part, "callbacks": callbacks_part, "postgres": postgres_part}
    parts = [await runners[name](args) for name in args.parts.split(",")]
    ours = sum(p.ms(p.ours) for p in parts)
    harness = sum(p.ms(p.harness) for p in parts)
    pg = sum(p.ms(p.postgres) for p in parts)
    total = ours + harness + pg
    by_part = ", ".join(f"{p.name} {p.ms(p.ours + p.harness + p.postgres):.3f}" for p in parts)
    return (
        f"floor a message: ours {ours:.3f} ms + PostgreSQL {pg:.3f} ms + harness {harness:.3f} ms = {total:.3f} ms CPU "
        f"({by_part}); ceiling on {CORES} cores with nothing else running: {CORES * 1000 / total:,.0f} msg/s; "
        f"without the harness: {CORES * 1000 / (ours + pg):,.0f} msg/s"
    )


def main() -> None:
    if sys.argv[1:2] == ["--serve-asgi"]:
        serve_asgi(int(sys.argv[2]))
        return
    if sys.argv[1:2] == ["--send-callbacks"]:
        uvloop.run(send_callbacks(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--batch", type=int, default=200, help="messages a batch of database writes")
    parser.add_argument("--parts", default="http,smpp,callbacks,postgres", help="which parts to run (comma-separated)")
    parser.add_argument("--pg-admin", default="postgresql://postgres@127.0.0.1:5432/postgres")
    print(uvloop.run(main_async(parser.parse_args())))


if __name__ == "__main__":
    main()
