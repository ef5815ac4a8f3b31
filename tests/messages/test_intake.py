"""Group commit of sends (messages/intake.py) and the send fast path (messages/fastpath.py).

Concurrent sends share transactions, yet each keeps its own answer; a refused send writes
nothing; a failed transaction fails (and stores) none of its batch; remembered callers are
re-checked against the database on every send.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, select, text
from starlette.types import Receive, Scope, Send

from message_exchange.jobs.models import Job
from message_exchange.messages.fastpath import SendFastPath
from message_exchange.messages.models import Message
from message_exchange.messages.service import dispatch_sids
from tests.support.accounts import Creds, MakeAccount, OwnNumber

pytestmark = pytest.mark.usefixtures("root_numbers")

ACCOUNTS = "/restcomm/2012-04-24/Accounts"


def _url(account: str) -> str:
    return f"/api/2012-04-24/Accounts/{account}/Messages.json"


def _form(to: str, body: str = "hi", sender: str = "+19876543210") -> dict[str, str]:
    return {"from": f"sms:{sender}", "to": f"sms:{to}", "body": body}


async def _stored(app: FastAPI) -> tuple[set[str], list[list[str]]]:
    """The messages stored, and the messages each job names."""
    async with app.state.session_factory() as session:
        sids = set((await session.scalars(select(Message.sid))).all())
        jobs = [dispatch_sids(payload) for payload in (await session.scalars(select(Job.payload))).all()]
        return sids, jobs


def _count_commits(app: FastAPI) -> list[int]:
    commits: list[int] = []

    @event.listens_for(app.state.engine.sync_engine, "commit")
    def _on_commit(_conn: Any) -> None:
        commits.append(1)

    return commits


async def test_concurrent_sends_share_transactions_and_keep_their_own_answers(
    client: httpx.AsyncClient, app: FastAPI, root: Creds, own_number: OwnNumber, make_account: MakeAccount
) -> None:
    other = await make_account()
    await own_number(other, "+14445550000")
    await client.post(_url(root.sid), data=_form("+13330000000"), auth=root.auth)  # caller remembered
    commits = _count_commits(app)
    good = [_form(f"+1333000{n:04d}") for n in range(40)]
    bad = [
        _form("+13339999999", sender="+14445550000"),  # another account's number → 21606
        _form("not-a-number"),  # → 400 before the batch
        {**_form("+13338888888"), "body": "x" * 1601},  # → 21617
    ]
    responses = await asyncio.gather(
        *(client.post(_url(root.sid), data=form, auth=root.auth) for form in [*good, *bad])
    )
    accepted = responses[: len(good)]
    assert all(r.status_code == 200 for r in accepted), [r.text for r in accepted if r.status_code != 200]
    assert [r.json()["to"] for r in accepted] == [form["to"] for form in good]
    assert [r.status_code for r in responses[len(good) :]] == [400, 400, 400]
    assert responses[len(good)].json()["code"] == 21606
    assert responses[len(good) + 2].json()["code"] == 21617
    sids, jobs = await _stored(app)
    assert {r.json()["sid"] for r in accepted} <= sids and len(sids) == len(good) + 1
    named = [sid for job in jobs for sid in job]
    assert sorted(named) == sorted(sids), "every message is named by exactly one dispatch job"
    # 40 sends in far fewer transactions than sends: that is the point of the intake. The
    # sends of one transaction share a dispatch job.
    assert 1 <= len(commits) < len(good) / 2, len(commits)
    assert len(jobs) <= len(commits) + 1 < len(good), (len(jobs), len(commits))


async def test_a_failed_transaction_fails_its_whole_batch_and_stores_nothing(
    client: httpx.AsyncClient, app: FastAPI, root: Creds, backend: str
) -> None:
    await client.post(_url(root.sid), data=_form("+13330000000"), auth=root.auth)
    before, jobs_before = await _stored(app)
    # A real failure inside the transaction: the jobs table is gone, so inserting the jobs fails
    # after the messages were inserted — the rollback must take the messages with it.
    async with app.state.engine.begin() as conn:
        await conn.execute(text("ALTER TABLE jobs RENAME TO jobs_away"))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as failing:
        responses = await asyncio.gather(
            *(failing.post(_url(root.sid), data=_form(f"+1444000{n:04d}"), auth=root.auth) for n in range(10))
        )
    async with app.state.engine.begin() as conn:
        await conn.execute(text("ALTER TABLE jobs_away RENAME TO jobs"))
    assert [r.status_code for r in responses] == [500] * 10
    assert all(r.json()["code"] != 200 for r in responses)
    assert await _stored(app) == (before, jobs_before)
    # And the intake goes on working once the database does.
    again = await client.post(_url(root.sid), data=_form("+13331111111"), auth=root.auth)
    assert again.status_code == 200, again.text


async def test_remembered_callers_are_rechecked_on_every_send(
    client: httpx.AsyncClient, root: Creds, make_account: MakeAccount, own_number: OwnNumber
) -> None:
    child = await make_account(root)
    await own_number(child, "+16665550000")
    form = _form("+13330000000", sender="+16665550000")
    assert (await client.post(_url(child.sid), data=form, auth=child.auth)).status_code == 200
    by_password = httpx.BasicAuth(child.email, child.password)
    assert (await client.post(_url(child.sid), data=form, auth=by_password)).status_code == 200

    # The parent suspends the child: its remembered credentials stop working at once.
    suspend = await client.post(f"{ACCOUNTS}/{child.sid}.json", data={"Status": "suspended"}, auth=root.auth)
    assert suspend.status_code == 200, suspend.text
    refused = await client.post(_url(child.sid), data=form, auth=child.auth)
    assert refused.status_code == 403, refused.text
    assert (await client.post(_url(child.sid), data=form, auth=by_password)).status_code == 403
    active = await client.post(f"{ACCOUNTS}/{child.sid}.json", data={"Status": "active"}, auth=root.auth)
    assert active.status_code == 200, active.text

    # A rotated token and a changed password: the old ones are refused, the new ones work.
    rotated = await client.post(f"{ACCOUNTS}/{child.sid}/AuthToken.json", auth=child.auth)
    assert rotated.status_code == 200, rotated.text
    new_token = rotated.json()["auth_token"]
    assert (await client.post(_url(child.sid), data=form, auth=child.auth)).status_code == 401
    assert (await client.post(_url(child.sid), data=form, auth=(child.sid, new_token))).status_code == 200
    changed = await client.post(
        f"{ACCOUNTS}/{child.sid}.json", data={"Password": "an0ther-passw0rd"}, auth=(child.sid, new_token)
    )
    assert changed.status_code == 200, changed.text
    assert (await client.post(_url(child.sid), data=form, auth=by_password)).status_code == 401
    new_password = httpx.BasicAuth(child.email, "an0ther-passw0rd")
    assert (await client.post(_url(child.sid), data=form, auth=new_password)).status_code == 200

    # A child may not send for its parent; the parent may send for its child.
    child_now = (child.sid, new_token)
    assert (await client.post(_url(root.sid), data=_form("+13330000000"), auth=child_now)).status_code == 404
    response = await client.post(_url(child.sid), data=form, auth=root.auth)
    assert response.status_code == 200 and response.json()["account_sid"] == child.sid


async def test_stopping_the_intake_stores_what_was_queued(app: FastAPI, root: Creds) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        await client.post(_url(root.sid), data=_form("+13330000000"), auth=root.auth)
        sends = [
            asyncio.create_task(client.post(_url(root.sid), data=_form(f"+1555000{n:04d}"), auth=root.auth))
            for n in range(20)
        ]
        await asyncio.sleep(0)  # let them queue
        await app.state.intake.stop()
        responses = await asyncio.gather(*sends, return_exceptions=True)
    answered = [r for r in responses if isinstance(r, httpx.Response) and r.status_code == 200]
    sids, _ = await _stored(app)
    assert {r.json()["sid"] for r in answered} <= sids
    assert len(sids) == 1 + len(answered)


async def test_json_and_form_sends_answer_alike(client: httpx.AsyncClient, root: Creds) -> None:
    """Form bodies take the fast path, JSON bodies FastAPI's: same rules, same answers."""
    for form in (_form("+13330000000"), _form("nope"), {**_form("+13330000000"), "media_list": "[1]"}, {}):
        by_form = await client.post(_url(root.sid), data=form, auth=root.auth)
        by_json = await client.post(_url(root.sid), json=form, auth=root.auth)
        assert by_form.status_code == by_json.status_code
        a, b = by_form.json(), by_json.json()
        for volatile in ("sid", "date_created", "date_updated", "uri"):
            a.pop(volatile, None)
            b.pop(volatile, None)
        assert a == b


async def test_the_fast_path_takes_only_form_posts_to_send_routes(app: FastAPI, root: Creds) -> None:
    """Route choice of SendFastPath itself: what it answers, what it leaves to the app behind it."""
    reached: list[str] = []

    async def behind(scope: Scope, receive: Receive, send: Send) -> None:
        reached.append(f"{scope['method']} {scope['path']}")
        await send({"type": "http.response.start", "status": 418, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def handler(request: Any, path: dict[str, Any], caller: Any, form: Any) -> Any:
        from starlette.responses import PlainTextResponse

        return PlainTextResponse(f"{path['account_sid']} {caller.sid} {form.getlist('to')}")

    from message_exchange.messages import routes as messages_routes

    routes = [route for router in messages_routes.routers for route in router.routes]
    fast = SendFastPath(behind, routes=routes, handlers={messages_routes.send_message: handler})
    wrapped = _with_state(fast, app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=wrapped), base_url="http://test") as client:
        url = f"/restcomm/2012-04-24/Accounts/{root.sid}/Messages.xml"
        answered = await client.post(url, data={"to": ["a", "b"]}, auth=root.auth)
        assert answered.status_code == 200 and answered.text == f"{root.sid} {root.sid} ['a', 'b']"
        assert (await client.post(url, json={"to": "a"}, auth=root.auth)).status_code == 418
        assert (await client.get(url, auth=root.auth)).status_code == 418
        other = f"/restcomm/2012-04-24/Accounts/{root.sid}/SMS/Messages"  # no handler given for it
        assert (await client.post(other, data={"To": "a"}, auth=root.auth)).status_code == 418
        unauthenticated = await client.post(url, data={"to": "a"})
        assert unauthenticated.status_code == 401 and "<RestcommResponse>" in unauthenticated.text
    assert reached == [f"POST {url}", f"GET {url}", f"POST {other}"]


def _with_state(inner: Any, app: FastAPI) -> Any:
    """``inner`` seen with ``app`` in its scope, as inside the real middleware stack."""

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        await inner({**scope, "app": app}, receive, send)

    return asgi
