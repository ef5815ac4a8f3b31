"""The service functions other domains call: normalize_e164, find_by_phone_number, get_owned."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from message_exchange.accounts import service as accounts
from message_exchange.core.errors import BadRequest, Conflict, NotFound
from message_exchange.numbers import service
from message_exchange.numbers.repository import NumberRepository
from tests.numbers.helpers import add_number, count_numbers
from tests.support.accounts import Creds, MakeAccount


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+14155550100", "+14155550100"),
        ("+1 (415) 555-0100", "+14155550100"),
        ("+15550000001", "+15550000001"),  # the 555 test range is accepted
        ("+44 (0)20 7946 0958", "+442079460958"),
    ],
)
def test_normalize_e164(raw: str, e164: str) -> None:
    assert service.normalize_e164(raw) == e164


@pytest.mark.parametrize("raw", ["", "4155550100", "+1 555 0100", "+1415555010012345", "+", "+1 415 555 0100 x1"])
def test_normalize_e164_rejects_naming_the_parameter(raw: str) -> None:
    with pytest.raises(BadRequest) as caught:
        service.normalize_e164(raw, param="To")
    assert caught.value.param == "To" and caught.value.code == 21421
    assert "To" in caught.value.message


async def test_find_by_phone_number_is_system_wide(
    client: httpx.AsyncClient, app: FastAPI, root: Creds, make_account: MakeAccount
) -> None:
    child = await make_account(root)
    created = await add_number(client, child, "+14155550500", SmsUrl="https://hook.example.com/in")
    async with app.state.session_factory() as session:
        found = await service.find_by_phone_number(session, "+14155550500")
        assert found is not None and found.sid == created["sid"] and found.account_sid == child.sid
        assert found.sms_url == "https://hook.example.com/in"
        assert await service.find_by_phone_number(session, "+14155550501") is None


async def test_get_owned_is_the_owner_only(
    client: httpx.AsyncClient, app: FastAPI, root: Creds, make_account: MakeAccount
) -> None:
    child = await make_account(root)
    created = await add_number(client, child, "+14155550502")
    async with app.state.session_factory() as session:
        owner = await accounts.get_by_sid(session, child.sid)
        assert (await service.get_owned(session, owner, created["sid"])).phone_number == "+14155550502"
        parent = await accounts.get_by_sid(session, root.sid)
        for account, sid in ((parent, created["sid"]), (owner, "PN" + "0" * 32), (owner, "not-a-sid")):
            with pytest.raises(NotFound):
                await service.get_owned(session, account, sid)


async def test_add_number_race_is_decided_by_the_unique_index(
    client: httpx.AsyncClient, app: FastAPI, root: Creds, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two transactions that both passed the existence check: one row, the other gets 409 (21422)."""
    async with app.state.session_factory() as session, session.begin():
        owner = await accounts.get_by_sid(session, root.sid)
        await service.add_number(session, owner, service.NewNumber(phone_number="+14155550503"))
    async with app.state.session_factory() as session:
        owner = await accounts.get_by_sid(session, root.sid)

        async def blind(self: NumberRepository, e164: str) -> None:
            return None

        # as if a concurrent add committed between the existence check and the insert
        monkeypatch.setattr(NumberRepository, "get_by_phone_number", blind)
        with pytest.raises(Conflict) as caught:
            await service.add_number(session, owner, service.NewNumber(phone_number="+1 415 555 0503"))
        await session.rollback()
    assert caught.value.code == 21422 and caught.value.status_code == 409
    assert await count_numbers(app) == 1
