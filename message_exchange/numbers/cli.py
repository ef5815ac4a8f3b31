"""`mx numbers add/list/remove`: the operator's view of incoming phone numbers (every account)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from message_exchange.cli_support import in_transaction, prepare_schema, settings_from_env
from message_exchange.core.crypto import SecretBox
from message_exchange.core.errors import BadRequest
from message_exchange.numbers.models import IncomingPhoneNumber
from message_exchange.numbers.schemas import check_text, check_url, number_resource

app = typer.Typer(help="Incoming phone numbers.", no_args_is_help=True)


def _url(value: str | None, option: str) -> str | None:
    try:
        return check_url(value)
    except ValueError as exc:
        raise BadRequest(f"{option} {exc}", param=option) from None


def _has_control(text: str) -> bool:
    try:
        check_text(text)
    except ValueError:
        return True
    return False


def _method(value: str, option: str) -> str:
    method = value.strip().upper()
    if method not in ("GET", "POST"):
        raise BadRequest(f"{option} must be GET or POST, got {value!r}", param=option)
    return method


def _line(number: IncomingPhoneNumber) -> str:
    return f"{number.sid}  {number.phone_number:<16}  {number.account_sid}  {number.friendly_name}"


@app.command("add")
def add(
    account: Annotated[str, typer.Option(help="Owner account sid (AC…).")],
    number: Annotated[str, typer.Option(help="Phone number with country code, e.g. +14155550100.")],
    friendly_name: Annotated[str | None, typer.Option(help="Display name; default: the number.")] = None,
    sms_url: Annotated[str | None, typer.Option(help="Absolute http(s) URL inbound SMS are sent to.")] = None,
    sms_method: Annotated[str, typer.Option(help="GET or POST.")] = "POST",
    status_callback: Annotated[str | None, typer.Option(help="Absolute http(s) URL for status callbacks.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the resource as JSON.")] = False,
) -> None:
    """Give an account a phone number (unique across the whole system)."""
    from message_exchange.accounts import service as accounts
    from message_exchange.numbers import service

    settings = settings_from_env()
    prepare_schema(settings)

    async def work(session: AsyncSession, _box: SecretBox) -> dict[str, Any]:
        if friendly_name is not None and (not 1 <= len(friendly_name) <= 64 or _has_control(friendly_name)):
            raise BadRequest(
                "--friendly-name must be 1 to 64 characters, no control characters", param="--friendly-name"
            )
        new = service.NewNumber(
            phone_number=number,
            friendly_name=friendly_name,
            sms_url=_url(sms_url, "--sms-url"),
            sms_method=_method(sms_method, "--sms-method"),
            status_callback=_url(status_callback, "--status-callback"),
        )
        owner = await accounts.get_by_sid(session, account)
        return number_resource(await service.add_number(session, owner, new))

    resource = in_transaction(settings, work)
    if as_json:
        typer.echo(json.dumps(resource))
    else:
        typer.echo(f"{resource['sid']}  {resource['phone_number']}  account={resource['account_sid']}")


@app.command("list")
def list_(
    account: Annotated[str | None, typer.Option(help="Only this account's numbers.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
) -> None:
    """List numbers, by phone number."""
    from message_exchange.numbers import service

    settings = settings_from_env()
    prepare_schema(settings)

    async def work(session: AsyncSession, _box: SecretBox) -> list[tuple[str, dict[str, Any]]]:
        return [(_line(n), number_resource(n)) for n in await service.list_all(session, account)]

    rows = in_transaction(settings, work)
    if as_json:
        typer.echo(json.dumps([resource for _, resource in rows]))
        return
    for line, _ in rows:
        typer.echo(line)


@app.command("remove")
def remove(
    number_or_sid: Annotated[str, typer.Argument(metavar="NUMBER_OR_SID", help="PN… sid or the phone number.")],
) -> None:
    """Release a number (it can then be added again, to any account)."""
    from message_exchange.numbers import service

    settings = settings_from_env()
    prepare_schema(settings)

    async def work(session: AsyncSession, _box: SecretBox) -> str:
        found = await service.find_for_cli(session, number_or_sid)
        e164 = found.phone_number
        await service.remove_number(session, found)
        return e164

    typer.echo(f"removed {in_transaction(settings, work)}")
