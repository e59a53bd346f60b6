"""Which trunk an unauthenticated request belongs to, by where it came from.

A peer trunk owns the (address, port) pairs its host resolves to; a register trunk
owns its provider's addresses (any port: a provider's servers send from where they
like). Peers are asked first, and between two trunks the older (lower id) wins. The
index is rebuilt only after a trunk change or a new resolution, so the per-request
cost is two dictionary lookups, whatever the number of trunks.
"""

from __future__ import annotations

from collections.abc import Iterable

from kilopbx.apps.trunks.line_config import TrunkConfig, ip_literal
from kilopbx.engine.trunking import TrunkProfile

Addresses = frozenset[tuple[str, int]]


class SourceIndex:
    def __init__(self) -> None:
        self._peers: dict[tuple[str, int], TrunkProfile] = {}
        self._providers: dict[str, TrunkProfile] = {}
        self._hosts: frozenset[str] = frozenset()
        self.stale = True

    def rebuild(self, trunks: Iterable[tuple[TrunkConfig, Addresses]]) -> None:
        self._peers, self._providers = {}, {}
        for config, addresses in sorted(trunks, key=lambda item: item[0].id):
            if not config.enabled:
                continue
            if config.kind == "peer":
                pairs = set(addresses)
                literal = ip_literal(config.host)
                if literal is not None:
                    pairs.add((literal, config.port))
                for pair in pairs:
                    self._peers.setdefault(pair, config.profile)
            elif config.kind == "register":
                for address, _ in addresses:
                    self._providers.setdefault(address, config.profile)
        self._hosts = frozenset(self._providers) | {host for host, _ in self._peers}
        self.stale = False

    def knows_host(self, host: str) -> bool:
        """An address of an enabled trunk, on any port."""
        return host in self._hosts

    def find(self, host: str, port: int) -> TrunkProfile | None:
        address = ip_literal(host) or host
        return self._peers.get((address, port)) or self._providers.get(address)
