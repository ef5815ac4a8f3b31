"""`mx carriers add/list/update/remove` and `mx carriers route add/list/remove`: the operator's view.

Validation is the admin API's (carriers/service.py), with problems named by option
(``--port must be …``). Passwords are never printed.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from message_exchange.cli_support import in_transaction, prepare_schema, settings_from_env
from message_exchange.core.crypto import SecretBox
from message_exchange.core.errors import BadRequest

app = typer.Typer(help="Carrier connections (SMPP) and routing.", no_args_is_help=True)
route_app = typer.Typer(help="Routing rules: channel + destination prefix → carrier.", no_args_is_help=True)
app.add_typer(route_app, name="route")


def option_name(field: str) -> str:
    return "--" + field.replace("_", "-")


def _tps(raw: str | None) -> float | None:
    if raw is None or raw.strip().lower() in ("", "none"):
        return None
    try:
        return float(raw)
    except ValueError:
        raise BadRequest(f"--tps must be a number or 'none', got {raw!r}", param="--tps") from None


def _tlvs(items: list[str] | None) -> dict[int, bytes]:
    from message_exchange.carriers.service import parse_tlv_tag, parse_tlv_value

    out: dict[int, bytes] = {}
    for item in items or []:
        tag, sep, value = item.partition("=")
        if not sep:
            raise BadRequest(f"--tlv takes TAG=HEX (e.g. 0x1400=3132), got {item!r}", param="--tlv")
        out[parse_tlv_tag(tag.strip(), param="--tlv")] = parse_tlv_value(value.strip(), param="--tlv")
    return out


def _echo_carrier(resource: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(resource))
    else:
        state = "enabled" if resource["enabled"] else "disabled"
        typer.echo(f"{resource['name']}  {resource['type']}  {resource['host']}:{resource['port']}  {state}")


Host = Annotated[str | None, typer.Option(help="SMSC host name or IP address.")]
Port = Annotated[int | None, typer.Option(help="SMSC port.")]
SystemId = Annotated[str | None, typer.Option(help="Bind system_id (≤ 15 characters).")]
Password = Annotated[str | None, typer.Option(help="Bind password (≤ 8 characters); stored encrypted.")]
# Asked for (not echoed) when not given, so it need not appear in shell history or `ps`.
NewPassword = Annotated[
    str,
    typer.Option(prompt=True, hide_input=True, help="Bind password (≤ 8 characters); asked for when not given."),
]
SystemType = Annotated[str | None, typer.Option(help="Bind system_type.")]
Tls = Annotated[bool | None, typer.Option("--tls/--no-tls", help="Connect over TLS.")]
TlsVerify = Annotated[bool | None, typer.Option("--tls-verify/--no-tls-verify", help="Verify the certificate.")]
BindMode = Annotated[str | None, typer.Option(help="transceiver | transmitter_receiver.")]
Binds = Annotated[int | None, typer.Option(help="Bound sessions across all nodes.")]
Window = Annotated[int | None, typer.Option(help="submit_sm in flight per session.")]
Tps = Annotated[str | None, typer.Option(help="submit_sm PDUs per second (parts); 'none' = no limit.")]
Ton = Annotated[int | None, typer.Option(help="Type of number (0-6).")]
Npi = Annotated[int | None, typer.Option(help="Numbering plan indicator.")]
DataCoding = Annotated[str | None, typer.Option(help="auto | gsm7 | latin1 | ucs2.")]
LongMessage = Annotated[str | None, typer.Option(help="udh | sar | payload.")]
Registered = Annotated[
    bool | None, typer.Option("--registered-delivery/--no-registered-delivery", help="Ask for delivery receipts.")
]
Seconds = Annotated[float | None, typer.Option()]
TlvOption = Annotated[
    list[str] | None, typer.Option("--tlv", help="Custom TLV on every submit_sm, TAG=HEX (repeatable).")
]
DltTlv = Annotated[
    str | None, typer.Option(help="TLV tag for a message's DLT template id (default 0x1401); 0 = never.")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _given(values: dict[str, Any], tlv: list[str] | None, tps: str | None, tps_given: bool) -> dict[str, Any]:
    out = {field: value for field, value in values.items() if value is not None}
    if tlv is not None:
        out["custom_tlvs"] = _tlvs(tlv)
    if tps_given:
        out["tps"] = _tps(tps)
    if isinstance(out.get("dlt_template_tlv"), str):
        from message_exchange.carriers.service import parse_tlv_tag

        out["dlt_template_tlv"] = parse_tlv_tag(out["dlt_template_tlv"].strip(), param="--dlt-template-tlv")
    return out


@app.command("add")
def add(
    name: Annotated[str, typer.Option(help="Unique name; routes refer to it.")],
    host: Host,
    port: Port,
    system_id: SystemId,
    password: NewPassword,
    carrier_type: Annotated[str, typer.Option("--type", help="Connector type.")] = "smpp",
    system_type: SystemType = None,
    tls: Tls = None,
    tls_verify: TlsVerify = None,
    bind_mode: BindMode = None,
    binds: Binds = None,
    window: Window = None,
    tps: Tps = None,
    source_ton: Ton = None,
    source_npi: Npi = None,
    dest_ton: Ton = None,
    dest_npi: Npi = None,
    data_coding: DataCoding = None,
    long_message: LongMessage = None,
    registered_delivery: Registered = None,
    enquire_link_seconds: Seconds = None,
    response_timeout_seconds: Seconds = None,
    reconnect_min_seconds: Seconds = None,
    reconnect_max_seconds: Seconds = None,
    bind_lease_seconds: Seconds = None,
    mo_reassembly_seconds: Seconds = None,
    tlv: TlvOption = None,
    dlt_template_tlv: DltTlv = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Store it without connecting yet.")] = False,
    as_json: AsJson = False,
) -> None:
    """Add a carrier connection; worker processes connect to it within seconds."""
    # First, while the parameters are the only locals.
    values = {k: v for k, v in locals().items() if k not in ("tlv", "tps", "as_json", "disabled", "carrier_type")}
    from message_exchange.carriers import service
    from message_exchange.carriers.schemas import connection_resource

    settings = settings_from_env()
    prepare_schema(settings)

    async def work(session: AsyncSession, box: SecretBox) -> dict[str, Any]:
        given = _given(values, tlv, tps, tps is not None)
        given.update(type=carrier_type, enabled=not disabled)
        return connection_resource(await service.create_connection(session, box, given, name_of=option_name))

    _echo_carrier(in_transaction(settings, work), as_json)


@app.command("update")
def update(
    name: Annotated[str, typer.Argument(metavar="NAME_OR_SID", help="The carrier's name or CC… sid.")],
    host: Host = None,
    port: Port = None,
    system_id: SystemId = None,
    password: Password = None,
    system_type: SystemType = None,
    tls: Tls = None,
    tls_verify: TlsVerify = None,
    bind_mode: BindMode = None,
    binds: Binds = None,
    window: Window = None,
    tps: Tps = None,
    source_ton: Ton = None,
    source_npi: Npi = None,
    dest_ton: Ton = None,
    dest_npi: Npi = None,
    data_coding: DataCoding = None,
    long_message: LongMessage = None,
    registered_delivery: Registered = None,
    enquire_link_seconds: Seconds = None,
    response_timeout_seconds: Seconds = None,
    reconnect_min_seconds: Seconds = None,
    reconnect_max_seconds: Seconds = None,
    bind_lease_seconds: Seconds = None,
    mo_reassembly_seconds: Seconds = None,
    tlv: TlvOption = None,
    dlt_template_tlv: DltTlv = None,
    enabled: Annotated[bool | None, typer.Option("--enable/--disable", help="Connect to it, or not.")] = None,
    as_json: AsJson = False,
) -> None:
    """Change a carrier connection (only the options given); running connectors pick it up."""
    values = {k: v for k, v in locals().items() if k not in ("name", "tlv", "tps", "as_json")}
    from message_exchange.carriers import service
    from message_exchange.carriers.schemas import connection_resource

    settings = settings_from_env()
    prepare_schema(settings)

    async def work(session: AsyncSession, box: SecretBox) -> dict[str, Any]:
        row = await service.get_connection(session, name)
        given = _given(values, tlv, tps, tps is not None)
        return connection_resource(await service.update_connection(session, box, row, given, name_of=option_name))

    _echo_carrier(in_transaction(settings, work), as_json)


@app.command("list")
def list_(as_json: AsJson = False) -> None:
    """List carrier connections by name (passwords masked)."""
    from message_exchange.carriers import service
    from message_exchange.carriers.schemas import connection_resource

    settings = settings_from_env()
    prepare_schema(settings)

    async def work(session: AsyncSession, _box: SecretBox) -> list[dict[str, Any]]:
        return [connection_resource(row) for row in await service.all_connections(session)]

    rows = in_transaction(settings, work)
    if as_json:
        typer.echo(json.dumps(rows))
        return
    for row in rows:
        _echo_carrier(row, False)


@app.command("remove")
def remove(name: Annotated[str, typer.Argument(metavar="NAME_OR_SID")]) -> None:
    """Remove a carrier connection (refused while routes use it); its connectors unbind."""
    from message_exchange.carriers import service

    settings = settings_from_env()
    prepare_schema(settings)

    async def work(session: AsyncSession, _box: SecretBox) -> str:
        row = await service.get_connection(session, name)
        await service.remove_connection(session, row)
        return row.name

    typer.echo(f"removed {in_transaction(settings, work)}")


def _route_line(route: dict[str, Any]) -> str:
    prefix = f"+{route['prefix']}" if route["prefix"] else "(any)"
    return f"{route['sid']}  {route['channel']:<3}  {prefix:<16}  priority={route['priority']:<6}  {route['carrier']}"


@route_app.command("add")
def route_add(
    carrier: Annotated[str, typer.Option(help="Carrier connection name, or sandbox.")],
    prefix: Annotated[str, typer.Option(help="Destination E.164 prefix, e.g. +44; empty = any number.")] = "",
    channel: Annotated[str, typer.Option(help="sms | mms | *")] = "*",
    priority: Annotated[int, typer.Option(help="Lower first among routes of the same prefix length.")] = 0,
    as_json: AsJson = False,
) -> None:
    """Route messages on a channel to numbers starting with a prefix to a carrier."""
    from message_exchange.carriers import service
    from message_exchange.carriers.schemas import route_resource

    settings = settings_from_env()
    prepare_schema(settings)

    async def work(session: AsyncSession, _box: SecretBox) -> dict[str, Any]:
        route = await service.add_route(
            session, carrier=carrier, prefix=prefix, channel=channel, priority=priority, name_of=option_name
        )
        return route_resource(route)

    resource = in_transaction(settings, work)
    typer.echo(json.dumps(resource) if as_json else _route_line(resource))


@route_app.command("list")
def route_list(as_json: AsJson = False) -> None:
    """List routes by channel, prefix and priority."""
    from message_exchange.carriers import service
    from message_exchange.carriers.schemas import route_resource
    from message_exchange.core.paging import MAX_PAGE_SIZE, PageRequest

    settings = settings_from_env()
    prepare_schema(settings)

    async def work(session: AsyncSession, _box: SecretBox) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        page = 0
        while True:
            total, routes = await service.list_routes(session, PageRequest(page, MAX_PAGE_SIZE))
            out.extend(route_resource(route) for route in routes)
            page += 1
            if len(out) >= total or not routes:
                return out

    rows = in_transaction(settings, work)
    if as_json:
        typer.echo(json.dumps(rows))
        return
    for row in rows:
        typer.echo(_route_line(row))


@route_app.command("remove")
def route_remove(sid: Annotated[str, typer.Argument(help="The route's CR… sid.")]) -> None:
    """Remove a route."""
    from message_exchange.carriers import service

    settings = settings_from_env()
    prepare_schema(settings)

    async def work(session: AsyncSession, _box: SecretBox) -> str:
        await service.remove_route(session, await service.get_route(session, sid))
        return sid

    typer.echo(f"removed {in_transaction(settings, work)}")
