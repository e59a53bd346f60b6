"""SourceIndex.knows_host: the addresses of enabled trunks, for the flood defences."""

from __future__ import annotations

from dataclasses import replace

from kilopbx.apps.trunks.source_index import SourceIndex
from tests.unit.trunks.helpers import config


def test_addresses_of_enabled_trunks_are_known_on_any_port() -> None:
    index = SourceIndex()
    peer = config(1, "peer1", host="192.0.2.10", port=5070)
    provider = config(2, "prov", "register", host="sip.example.net")
    off = replace(config(3, "off", host="192.0.2.30"), enabled=False)
    named_peer = config(4, "named", host="pbx.example.org")
    index.rebuild(
        [
            (peer, frozenset()),
            (provider, frozenset({("198.51.100.7", 5060)})),
            (off, frozenset({("192.0.2.30", 5060)})),
            (named_peer, frozenset({("203.0.113.4", 5080)})),
        ]
    )
    assert index.knows_host("192.0.2.10")  # an IP literal host, before any resolution
    assert index.knows_host("198.51.100.7")
    assert index.knows_host("203.0.113.4")
    assert not index.knows_host("192.0.2.30")  # disabled
    assert not index.knows_host("sip.example.net") and not index.knows_host("192.0.2.99")
    index.rebuild([])
    assert not index.knows_host("192.0.2.10")
