"""JSON webhook deliveries: an explicit body format on the delivery, not a magic form parameter.

A JSON delivery (``body_format`` ``json``) posts its stored ``body`` as ``application/json``
to the URL with ``?bodySHA256=<hex>``, signed over that URL; retries send the same bytes.
Migration ``0013_webhook_json`` rewrites deliveries stored the old way.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree

import asyncpg
import httpx
import pytest
from alembic import command
from fastapi import FastAPI
from sqlalchemy import bindparam, text
from sqlalchemy.engine import make_url
from twilio.request_validator import RequestValidator

from message_exchange.config import Settings
from message_exchange.db import migrate
from message_exchange.db.base import UTCDateTime
from message_exchange.db.engine import create_engine
from message_exchange.webhooks import service
from message_exchange.webhooks.client import send_webhook
from message_exchange.webhooks.models import BodyFormat, DeliveryStatus
from tests.conftest import TEST_SECRET_KEY, _postgres_admin_dsn
from tests.fakes.callback_sink import CallbackSink
from tests.support.accounts import Creds
from tests.webhooks.helpers import load, run_until_settled

TOKEN = "f" * 32
BODY = {"deliveryInfoNotification": {"deliveryInfo": {"code": "7500", "destination": "+14155550100"}}}


def _settings() -> Settings:
    return Settings(secret_key=TEST_SECRET_KEY, webhook_allow_private=True, webhook_timeout_seconds=2.0)


async def test_json_body_is_posted_as_json_and_signed(sink: CallbackSink) -> None:
    raw = json.dumps(BODY).encode()
    result = await send_webhook(sink.url("/n?a=1"), "POST", {}, auth_token=TOKEN, settings=_settings(), json_body=raw)
    assert result.ok
    [request] = sink.requests
    assert request.headers["content-type"] == "application/json" and request.body == raw
    assert "a=1&bodySHA256=" in request.url
    assert RequestValidator(TOKEN).validate(request.url, raw.decode(), request.signature)
    assert not RequestValidator(TOKEN).validate(request.url, raw.decode() + " ", request.signature)


async def test_the_old_magic_parameter_is_just_a_form_parameter(sink: CallbackSink) -> None:
    params = {"__json_body__": '{"x": 1}'}
    assert (await send_webhook(sink.url("/f"), "POST", params, auth_token=TOKEN, settings=_settings())).ok
    [request] = sink.requests
    assert request.headers["content-type"] == "application/x-www-form-urlencoded" and request.form == params


@pytest.mark.parametrize("method,params", [("GET", {}), ("POST", {"A": "1"})])
async def test_a_json_body_goes_alone_by_post(method: str, params: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="JSON body"):
        await send_webhook(
            "http://127.0.0.1:9/", method, params, auth_token=TOKEN, settings=_settings(), json_body=b"{}"
        )


async def test_json_delivery_is_stored_retried_and_shown_as_json(
    app: FastAPI, client: httpx.AsyncClient, root: Creds, sink: CallbackSink
) -> None:
    sink.respond("/notify", status=503)
    async with app.state.session_factory() as session, session.begin():
        sid = await service.enqueue_json_delivery(
            session,
            account_sid=root.sid,
            resource_sid="SM" + "1" * 32,
            purpose="connect_notification",
            url=sink.url("/notify"),
            body=BODY,
        )
    [delivery] = await run_until_settled(app, [sid])
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 2
    assert delivery.body_format == BodyFormat.JSON and delivery.params == {}
    assert delivery.body is not None and json.loads(delivery.body) == BODY
    first, second = sink.requests_to("/notify")
    assert first.body == second.body == delivery.body.encode() and first.url == second.url
    for request in (first, second):
        assert request.headers["content-type"] == "application/json"
        assert RequestValidator(root.token).validate(request.url, request.body.decode(), request.signature)
    shown = await client.get(f"/restcomm/2012-04-24/Accounts/{root.sid}/WebhookDeliveries/{sid}.json", auth=root.auth)
    resource = shown.json()
    assert resource["body_format"] == "json" and json.loads(resource["body"]) == BODY and resource["params"] == {}
    xml = await client.get(f"/restcomm/2012-04-24/Accounts/{root.sid}/WebhookDeliveries/{sid}.xml", auth=root.auth)
    element = ElementTree.fromstring(xml.content).find("WebhookDelivery")
    assert element is not None and element.findtext("BodyFormat") == "json"
    assert json.loads(element.findtext("Body") or "") == BODY


async def test_form_deliveries_say_so(app: FastAPI, root: Creds, sink: CallbackSink) -> None:
    async with app.state.session_factory() as session, session.begin():
        sid = await service.enqueue_delivery(
            session,
            account_sid=root.sid,
            resource_sid="SM" + "2" * 32,
            purpose="status_callback",
            url=sink.url("/s"),
            method="POST",
            params={"MessageStatus": "sent"},
        )
    delivery, _ = await load(app, sid)
    assert delivery.body_format == BodyFormat.FORM and delivery.body is None


# -- the migration ------------------------------------------------------------------------


@pytest.fixture
def fresh_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """An empty database of ``backend`` (not the session's migrated one: this test migrates it)."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
        return
    base: str = request.getfixturevalue("postgres_database")
    name = f"mx_mig_{secrets.token_hex(4)}"
    admin = _postgres_admin_dsn(base)

    async def admin_exec(sql: str) -> None:
        conn = await asyncpg.connect(admin, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin_exec(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(admin_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _run(url: str, *statements: tuple[str, dict[str, object]]) -> list[tuple[object, ...]]:
    async def go() -> list[tuple[object, ...]]:
        engine = create_engine(url)
        rows: list[tuple[object, ...]] = []
        try:
            async with engine.begin() as conn:
                for sql, params in statements:
                    statement = text(sql)
                    if "now" in params:  # naive UTC on SQLite, timestamptz on PostgreSQL
                        statement = statement.bindparams(bindparam("now", type_=UTCDateTime()))
                    result = await conn.execute(statement, params)
                    if result.returns_rows:
                        rows.extend(tuple(r) for r in result.all())
        finally:
            await engine.dispose()
        return rows

    return asyncio.run(go())


def test_migration_rewrites_legacy_json_deliveries_and_back(fresh_url: str) -> None:
    migrate.upgrade(fresh_url, "0011_job_queues")
    now = datetime.now(UTC)
    legacy_body = json.dumps(BODY)
    delivery = (
        "INSERT INTO webhook_deliveries (sid, account_sid, resource_sid, purpose, url, method, params, status, "
        "attempts, created_at, updated_at) VALUES (:sid, 'AC1', 'SM1', :purpose, 'https://h.example.com/', 'POST', "
        ":params, 'pending', 0, :now, :now)"
    )
    _run(
        fresh_url,
        (
            "INSERT INTO accounts (sid, lineage, friendly_name, email_address, status, type, role, "
            "auth_token_hash, auth_token_encrypted, date_created, date_updated) VALUES ('AC1', 'AC1', 'a', "
            "'a@example.com', 'active', 'Full', 'Administrator', 'h', 'e', :now, :now)",
            {"now": now},
        ),
        (
            delivery,
            {
                "sid": "WH1",
                "purpose": "connect_notification",
                "params": json.dumps({"__json_body__": legacy_body}),
                "now": now,
            },
        ),
        (
            delivery,
            {"sid": "WH2", "purpose": "status_callback", "params": json.dumps({"MessageStatus": "sent"}), "now": now},
        ),
    )
    migrate.upgrade(fresh_url, "0013_webhook_json")
    rows = _run(fresh_url, ("SELECT sid, body_format, body, params FROM webhook_deliveries ORDER BY sid", {}))
    converted = {sid: (fmt, body, json.loads(p) if isinstance(p, str) else p) for sid, fmt, body, p in rows}
    assert converted == {
        "WH1": ("json", legacy_body, {}),
        "WH2": ("form", None, {"MessageStatus": "sent"}),
    }
    command.downgrade(migrate.alembic_config(fresh_url), "0011_job_queues")
    rows = _run(fresh_url, ("SELECT sid, params FROM webhook_deliveries ORDER BY sid", {}))
    restored = {sid: json.loads(p) if isinstance(p, str) else p for sid, p in rows}
    assert restored == {"WH1": {"__json_body__": legacy_body}, "WH2": {"MessageStatus": "sent"}}
