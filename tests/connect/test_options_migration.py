"""Migration ``0014_message_options``: existing carriers get the DLT TLV default; down and up again."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command

from message_exchange.db import migrate
from tests.webhooks import test_json

fresh_url = test_json.fresh_url  # an empty database of the backend, migrated by the test itself

CARRIER = (
    "INSERT INTO carrier_connections (sid, name, type, enabled, host, port, system_id, password_encrypted, "
    'system_type, tls, tls_verify, bind_mode, binds, "window", tps, source_ton, source_npi, dest_ton, dest_npi, '
    "data_coding, long_message, registered_delivery, enquire_link_seconds, response_timeout_seconds, "
    "reconnect_min_seconds, reconnect_max_seconds, custom_tlvs, bind_lease_seconds, mo_reassembly_seconds, "
    "date_created, date_updated) VALUES ('CC1', 'in-a', 'smpp', true, 'h', 2775, 'e', 'x', '', false, true, "
    "'transceiver', 1, 10, NULL, 1, 1, 1, 1, 'auto', 'udh', true, 30, 10, 1, 60, '{}', 30, 300, :now, :now)"
)


def test_existing_carriers_get_0x1401_and_the_migration_goes_down_and_up(fresh_url: str) -> None:
    migrate.upgrade(fresh_url, "0013_webhook_json")
    test_json._run(fresh_url, (CARRIER, {"now": datetime.now(UTC)}))
    migrate.upgrade(fresh_url, "0014_message_options")
    assert test_json._run(fresh_url, ("SELECT dlt_template_tlv FROM carrier_connections", {})) == [(0x1401,)]
    assert test_json._run(fresh_url, ("SELECT count(*) FROM messages WHERE options IS NOT NULL", {})) == [(0,)]
    command.downgrade(migrate.alembic_config(fresh_url), "0013_webhook_json")
    assert test_json._run(fresh_url, ("SELECT name FROM carrier_connections", {})) == [("in-a",)]
    migrate.upgrade(fresh_url, "0014_message_options")
    assert test_json._run(fresh_url, ("SELECT dlt_template_tlv FROM carrier_connections", {})) == [(0x1401,)]
