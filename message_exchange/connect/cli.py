"""`mx connect …`: Messaging API v1 services and keys, templates, smart links, and
`mx connect send`, a campaign from a CSV file (policy groups and consent: the admin API).

``mx connect send --service CS… --file destinations.csv --template T --param k=v``:
the CSV has a header row; ``msisdn`` is required, ``correlationid`` optional, any other
column is that row's template parameter (over ``--param``). The whole file is validated
first (nothing is sent if a row is bad), then sent in requests of 1,000 destinations, each
accepted atomically, with a progress bar on stderr.
"""

from __future__ import annotations

import asyncio
import csv
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from message_exchange.cli_support import in_transaction, prepare_schema, settings_from_env
from message_exchange.config import Settings
from message_exchange.core.crypto import SecretBox
from message_exchange.core.errors import BadRequest, MXError
from message_exchange.db.engine import create_engine, create_session_factory

app = typer.Typer(
    help="Messaging API v1: services, templates, smart links, policy groups, campaigns.", no_args_is_help=True
)
services_app = typer.Typer(help="Services and their keys.", no_args_is_help=True)
app.add_typer(services_app, name="services")

T = TypeVar("T")
BATCH = 1000


def _run(work: Callable[[AsyncSession, SecretBox], Awaitable[T]]) -> T:
    settings = settings_from_env()
    prepare_schema(settings)
    return in_transaction(settings, work)


def _print(data: Any, as_json: bool, line: str) -> None:
    typer.echo(json.dumps(data, default=str) if as_json else line)


@services_app.command("create")
def services_create(
    account: Annotated[str, typer.Option(help="Owner account sid (AC…).")],
    name: Annotated[str, typer.Option(help="Service name.")],
    notify_url: Annotated[str | None, typer.Option(help="Default notifyurl for delivery notifications.")] = None,
    sender_id: Annotated[
        list[str] | None,
        typer.Option(help="Allowed sender id (repeat): alphanumeric, a number of the account, or a short code."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the service (with its key) as JSON.")] = False,
) -> None:
    """Create a service and print its key (shown only now)."""
    from message_exchange.accounts import service as accounts
    from message_exchange.connect import service
    from message_exchange.connect.schemas import service_resource

    async def work(session: AsyncSession, _box: SecretBox) -> dict[str, Any]:
        owner = await accounts.get_by_sid(session, account)
        spec = service.ServiceSpec(name, notify_url, sender_id)
        created, key = await service.create_service(session, owner, spec, operator=True)
        return service_resource(created, key)

    row = _run(work)
    _print(row, as_json, f"sid: {row['sid']}\nkey: {row['key']}")


@services_app.command("list")
def services_list(
    account: Annotated[str | None, typer.Option(help="Only this account's services.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
) -> None:
    """List services (keys masked)."""
    from message_exchange.connect import service
    from message_exchange.connect.schemas import service_resource

    async def work(session: AsyncSession, _box: SecretBox) -> list[dict[str, Any]]:
        return [service_resource(s) for s in await service.list_services(session, account)]

    rows = _run(work)
    lines = "\n".join(f"{r['sid']}  {r['account_sid']}  {r['status']:<8}  {r['name']}  {r['key']}" for r in rows)
    _print(rows, as_json, lines)


@services_app.command("update")
def services_update(
    sid: Annotated[str, typer.Argument(help="Service sid (CS…).")],
    name: Annotated[str | None, typer.Option(help="New name.")] = None,
    notify_url: Annotated[str | None, typer.Option(help="Default notifyurl (an empty string removes it).")] = None,
    sender_id: Annotated[
        list[str] | None, typer.Option(help="Allowed sender id (repeat; replaces the list); the first is the default.")
    ] = None,
    status: Annotated[
        str | None, typer.Option(help="active | disabled (a disabled service's key answers 7001).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the service (key masked) as JSON.")] = False,
) -> None:
    """Change a service's name, default notifyurl, sender ids or status."""
    from message_exchange.connect import service
    from message_exchange.connect.schemas import service_resource

    async def work(session: AsyncSession, _box: SecretBox) -> dict[str, Any]:
        found = await service.find_service(session, sid)
        spec = service.ServiceSpec(name, notify_url, sender_id, status)
        return service_resource(await service.update_service(session, found, spec, operator=True))

    row = _run(work)
    _print(
        row, as_json, f"{row['sid']}  {row['status']}  notify_url={row['notify_url']}  sender_ids={row['sender_ids']}"
    )


@services_app.command("rotate-key")
def services_rotate_key(
    sid: Annotated[str, typer.Argument(help="Service sid (CS…).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print {sid, key} as JSON.")] = False,
) -> None:
    """Replace a service's key; the old one stops working at once."""
    from message_exchange.connect import service

    async def work(session: AsyncSession, _box: SecretBox) -> str:
        return await service.rotate_key(session, await service.find_service(session, sid))

    key = _run(work)
    _print({"sid": sid, "key": key}, as_json, f"key: {key}")


@app.command("template")
def template(
    service_sid: Annotated[str, typer.Option("--service", help="Service sid (CS…).")],
    template_id: Annotated[str, typer.Option("--id", help="Template id.")],
    text: Annotated[str, typer.Option(help="Text with {{name}} parameters.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the template as JSON.")] = False,
) -> None:
    """Create or replace a template of a service."""
    from message_exchange.connect import service
    from message_exchange.connect.schemas import template_resource

    async def work(session: AsyncSession, _box: SecretBox) -> dict[str, Any]:
        found = await service.find_service(session, service_sid)
        return template_resource(await service.put_template(session, found, template_id, text))

    row = _run(work)
    _print(row, as_json, f"{row['template_id']}: parameters {', '.join(row['parameters']) or '(none)'}")


@app.command("link")
def link(
    service_sid: Annotated[str, typer.Option("--service", help="Service sid (CS…).")],
    link_id: Annotated[str, typer.Option("--id", help="Smart link id ({{link_<id>}} in texts).")],
    url: Annotated[str, typer.Option(help="Target URL.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the link as JSON.")] = False,
) -> None:
    """Create or replace a smart link definition of a service."""
    from message_exchange.connect import service
    from message_exchange.connect.schemas import link_definition_resource

    async def work(session: AsyncSession, _box: SecretBox) -> dict[str, Any]:
        found = await service.find_service(session, service_sid)
        return link_definition_resource(await service.put_link(session, found, link_id, url))

    row = _run(work)
    _print(row, as_json, f"link_{row['link_id']} → {row['url']}")


def read_destinations(path: Path) -> list[dict[str, Any]]:
    """CSV rows → destination entries (``msisdn``, ``correlationid``, other columns as parameters)."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames is None or "msisdn" not in [f.strip() for f in reader.fieldnames]:
                raise BadRequest(f"{path}: the header row needs an msisdn column", param="file")
            entries: list[dict[str, Any]] = []
            for row in reader:
                clean = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
                if not any(clean.values()):
                    continue
                entry: dict[str, Any] = {"msisdn": [clean.pop("msisdn")]}
                correlation = clean.pop("correlationid", "")
                if correlation:
                    entry["correlationid"] = correlation
                params = {k: v for k, v in clean.items() if k}
                if params:
                    entry["parameters"] = params
                entries.append(entry)
    except OSError as exc:
        raise BadRequest(f"cannot read {path}: {exc.strerror}", param="file") from None
    if not entries:
        raise BadRequest(f"{path} has no destinations", param="file")
    return entries


def _params(values: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values or []:
        name, sep, text = value.partition("=")
        if not sep or not name.strip():
            raise BadRequest(f"--param takes name=value, got {value!r}", param="param")
        out[name.strip()] = text
    return out


async def _send_file(settings: Settings, service_sid: str, bodies: list[dict[str, Any]]) -> dict[str, Any]:
    from message_exchange.connect import messaging, service
    from message_exchange.connect.routes import link_base

    engine = create_engine(settings.resolved_database_url)
    factory = create_session_factory(engine)
    accepted = 0
    batches: list[str] = []
    total = sum(len(b["destination"]) for b in bodies)
    try:
        async with factory() as session:  # the whole file first: nothing is sent if a row is bad
            found = await service.find_service(session, service_sid)
            for body in bodies:
                messaging.preflight(await messaging.parse_request(session, found, body))
        with typer.progressbar(length=total, label="sending", file=sys.stderr) as bar:
            for body in bodies:
                async with factory() as session, session.begin():
                    found = await service.find_service(session, service_sid)
                    done = await messaging.send(
                        session, found, body, base_url=link_base(settings, None), batch_id=body["_batch"]
                    )
                accepted += len(done)
                batches.append(body["_batch"])
                bar.update(len(done))
    finally:
        await engine.dispose()
    return {"accepted": accepted, "requests": len(bodies), "batch_ids": batches}


@app.command("send")
def send(
    service_sid: Annotated[str, typer.Option("--service", help="Service sid (CS…).")],
    file: Annotated[Path, typer.Option("--file", help="CSV with a header row: msisdn[,correlationid][,param…].")],
    template_id: Annotated[str | None, typer.Option("--template", help="Template id.")] = None,
    text: Annotated[str | None, typer.Option(help="Message text (instead of, or over, the template).")] = None,
    param: Annotated[list[str] | None, typer.Option(help="Template parameter name=value (repeat).")] = None,
    sender_id: Annotated[str | None, typer.Option(help="Sender id; default: the service's first.")] = None,
    notify_url: Annotated[str | None, typer.Option(help="notifyurl; default: the service's.")] = None,
    callback_data: Annotated[str | None, typer.Option(help="callbackData sent with every notification.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print {accepted, requests, batch_ids} as JSON.")] = False,
) -> None:
    """Send a campaign from a CSV file through the Messaging API v1 pipeline."""
    import uuid

    settings = settings_from_env()
    prepare_schema(settings)
    try:
        entries = read_destinations(file)
        sms: dict[str, Any] = {}
        if text is not None:
            sms["text"] = text
        if sender_id is not None:
            sms["senderid"] = sender_id
        base: dict[str, Any] = {"deliverychannel": "sms", "channels": {"sms": sms}}
        if template_id is not None or param:
            base["message"] = {"template": template_id, "parameters": _params(param)}
        if notify_url is not None:
            base["notifyurl"] = notify_url
        if callback_data is not None:
            base["callbackData"] = callback_data
        bodies = [
            {**base, "destination": entries[i : i + BATCH], "_batch": str(uuid.uuid4())}
            for i in range(0, len(entries), BATCH)
        ]
        result = asyncio.run(_send_file(settings, service_sid, bodies))
    except MXError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    _print(result, as_json, f"accepted {result['accepted']} destinations in {result['requests']} request(s)")
