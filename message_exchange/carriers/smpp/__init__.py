"""The SMPP 3.4 connector: an ESME on ``smpp34`` behind the :class:`~message_exchange.carriers.base.Carrier` protocol.

- :mod:`.config` — :class:`SmppConfig`, what carrier management hands the connector;
- :mod:`.carrier` — :func:`build_smpp_carrier`: sessions, window, throttle, submit;
- :mod:`.session` — one bound session (or a transmitter + receiver pair);
- :mod:`.store` — part records, receipts (parked until their part is known), MO reassembly;
- :mod:`.receipts` / :mod:`.errors` — receipt parsing and command_status mapping (pure);
- :mod:`.leases` — bind slots shared by every node through the database.
"""
