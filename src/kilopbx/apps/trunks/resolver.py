"""RFC 3263 resolution of a provider's host name into the places to send SIP to.

For a host name without an explicit port (the trunk's port is the default 5060):
NAPTR records pick the SRV name for the trunk's transport (`SIP+D2U`, `SIP+D2T`,
`SIPS+D2T`); without a usable NAPTR, `_sip._udp.<host>` (or `_sip._tcp` /
`_sips._tcp`) is asked directly; SRV targets are ordered by priority and, within one
priority, by a weighted random draw (RFC 2782); each target's A and AAAA records give
the addresses. Without SRV records the host's own A/AAAA records are used, on port
5060. With an explicit port only A/AAAA are asked (RFC 3263 §4.2). IP literals never
touch DNS.

Answers are cached for their TTL (capped), failures for `negative_ttl`, so a dead DNS
server is not asked on every call. The DNS itself is behind `Lookup`, so this module
is tested without sockets; `dns_lookup` is the dnspython adapter.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from kilopbx.apps.trunks.line_config import DEFAULT_SIP_PORT, ip_literal
from kilopbx.engine.trunking import TrunkTarget

log = logging.getLogger(__name__)

MAX_TTL = 3600.0
MIN_TTL = 1.0
MAX_TARGETS = 16  # a hostile zone cannot make one call try hundreds of addresses
MAX_SRV = 8


@dataclass(frozen=True)
class Naptr:
    order: int
    preference: int
    flags: str
    service: str
    replacement: str


@dataclass(frozen=True)
class Srv:
    priority: int
    weight: int
    port: int
    target: str


Record = Naptr | Srv | str  # str: an address (A / AAAA)
# (records, ttl seconds); no records: the name has none of that type
Lookup = Callable[[str, str], Awaitable[tuple[list[Record], float]]]

NAPTR_SERVICE = {"udp": "SIP+D2U", "tcp": "SIP+D2T", "tls": "SIPS+D2T"}
SRV_PREFIX = {"udp": "_sip._udp.", "tcp": "_sip._tcp.", "tls": "_sips._tcp."}


class DnsFailure(Exception):
    """DNS could not be asked (timeout, server failure): not the same as no records."""


class SipResolver:
    def __init__(
        self,
        lookup: Lookup,
        clock: Callable[[], float],
        *,
        negative_ttl: float = 30.0,
        rng: random.Random | None = None,
    ) -> None:
        self._lookup = lookup
        self._clock = clock
        self.negative_ttl = negative_ttl
        self._rng = rng or random.Random()
        self._cache: dict[tuple[str, str], tuple[float, list[Record]]] = {}
        self.queries = 0  # DNS questions actually asked (the rest came from the cache)

    def forget(self) -> None:
        self._cache.clear()

    async def resolve(self, host: str, port: int, transport: str) -> list[TrunkTarget]:
        """Targets in the order to try them; [] when the name does not resolve."""
        # the stack speaks UDP and TCP; a "tls" target fails to send (no TLS yet), so a
        # TLS trunk shows Failure instead of talking plain TCP to a TLS port
        sent_as = transport if transport in ("tcp", "tls") else "udp"
        literal = ip_literal(host)
        if literal is not None:
            return [TrunkTarget(literal, port, sent_as)]
        name = host.rstrip(".").lower()
        try:
            if port == DEFAULT_SIP_PORT:
                srv_name = await self._srv_name(name, transport)
                targets = await self._from_srv(srv_name, sent_as)
                if targets:
                    return targets[:MAX_TARGETS]
            addresses = await self._addresses(name)
        except DnsFailure as exc:
            log.warning("DNS lookup of %s failed: %s", name[:100], exc)
            return []
        return [TrunkTarget(a, port, sent_as) for a in addresses][:MAX_TARGETS]

    async def _srv_name(self, name: str, transport: str) -> str:
        wanted = NAPTR_SERVICE.get(transport, "SIP+D2U")
        naptrs = [r for r in await self._ask(name, "NAPTR") if isinstance(r, Naptr)]
        usable = [
            r
            for r in naptrs
            if r.flags.lower() == "s" and r.service.upper() == wanted and r.replacement
        ]
        if usable:
            best = min(usable, key=lambda r: (r.order, r.preference))
            return best.replacement.rstrip(".").lower()
        return SRV_PREFIX.get(transport, "_sip._udp.") + name

    async def _from_srv(self, srv_name: str, sent_as: str) -> list[TrunkTarget]:
        records = [r for r in await self._ask(srv_name, "SRV") if isinstance(r, Srv)]
        targets: list[TrunkTarget] = []
        for srv in self.srv_order(records)[:MAX_SRV]:
            if srv.target in ("", "."):  # "." : the service is decidedly not offered
                continue
            for address in await self._addresses(srv.target.rstrip(".").lower()):
                targets.append(TrunkTarget(address, srv.port, sent_as))
        return targets

    def srv_order(self, records: list[Srv]) -> list[Srv]:
        """RFC 2782: ascending priority; within one, a weighted random permutation."""
        ordered: list[Srv] = []
        for priority in sorted({r.priority for r in records}):
            # zero weights first, as RFC 2782 says, so they are picked only by a 0 draw
            pool = sorted((r for r in records if r.priority == priority), key=lambda r: r.weight)
            while pool:
                pick = self._rng.uniform(0, sum(r.weight for r in pool))
                running = 0
                chosen = pool[-1]
                for record in pool:
                    running += record.weight
                    if running >= pick:
                        chosen = record
                        break
                ordered.append(chosen)
                pool.remove(chosen)
        return ordered

    async def _addresses(self, name: str) -> list[str]:
        found: list[str] = []
        failures = 0
        for rdtype in ("A", "AAAA"):
            try:
                found += [r for r in await self._ask(name, rdtype) if isinstance(r, str)]
            except DnsFailure:
                failures += 1
        if failures == 2:
            raise DnsFailure(f"no answer for the addresses of {name[:100]}")
        return list(dict.fromkeys(found))

    async def _ask(self, name: str, rdtype: str) -> list[Record]:
        key = (name, rdtype)
        now = self._clock()
        cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        self.queries += 1
        try:
            records, ttl = await self._lookup(name, rdtype)
        except DnsFailure:
            # remembered briefly as "nothing", so a dead server does not stall every call
            self._cache[key] = (now + self.negative_ttl, [])
            raise
        ttl = min(MAX_TTL, max(MIN_TTL, ttl)) if records else self.negative_ttl
        self._cache[key] = (now + ttl, records)
        return records
