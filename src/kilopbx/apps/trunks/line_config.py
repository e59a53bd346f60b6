"""A trunk's settings as its runtime sees them: a frozen snapshot of one `Trunk` row.

The runtime never holds database rows: it compares snapshots to decide what a change
means (re-register, re-probe, nothing) and builds the engine's `TrunkProfile` from them.
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass
from typing import cast

from kilopbx.apps.trunks.models import Trunk
from kilopbx.engine.trunking import TrunkKind, TrunkProfile

DEFAULT_SIP_PORT = 5060


@dataclass(frozen=True)
class TrunkConfig:
    id: int
    name: str
    kind: TrunkKind
    enabled: bool
    host: str
    port: int
    domain: str
    username: str
    auth_name: str
    password: str
    from_user: str
    transport: str  # udp | tcp | tls
    outbound_proxy: str
    qualify_seconds: int
    register_expiry: int
    profile: TrunkProfile

    def __repr__(self) -> str:  # never shows the password
        return f"TrunkConfig(name={self.name!r}, kind={self.kind!r})"

    @property
    def sip_domain(self) -> str:
        return self.domain or self.host

    @property
    def digest_user(self) -> str:
        return self.auth_name or self.username

    def registration_key(self) -> tuple[object, ...]:
        """What a REGISTER depends on: a change re-registers (30-trunks.md, update)."""
        return (
            self.enabled,
            self.host,
            self.port,
            self.domain,
            self.username,
            self.auth_name,
            self.password,
            self.transport,
            self.outbound_proxy,
            self.register_expiry,
        )

    def probe_key(self) -> tuple[object, ...]:
        """What a peer's keep-alive depends on."""
        return (self.enabled, self.host, self.port, self.transport, self.qualify_seconds)


def parse_dids(text: str) -> tuple[tuple[str, str], ...]:
    """`didsetting` ("label-number,...", already validated) as (label, number) pairs."""
    pairs = []
    for item in text.split(","):
        label, sep, number = item.strip().rpartition("-")
        if sep and label and number:
            pairs.append((label, number))
    return tuple(pairs)


def config_of(trunk: Trunk) -> TrunkConfig:
    profile = TrunkProfile(
        name=trunk.name,
        kind=cast(TrunkKind, trunk.kind),
        domain=trunk.domain,
        username=trunk.username,
        auth_name=trunk.auth_name,
        password=trunk.password,
        from_user=trunk.from_user,
        caller_id_number=trunk.caller_id_number,
        caller_id_name=trunk.caller_id_name,
        codecs=tuple(c for c in trunk.codecs.split(",") if c),
        dtmf_mode=trunk.dtmf_mode,
        max_channels=trunk.max_channels,
        dids=parse_dids(trunk.did_setting),
        identity_headers=frozenset(h for h in trunk.identity_headers.split(",") if h),
        inbound_control=trunk.inbound_control,
    )
    return TrunkConfig(
        id=trunk.id,
        name=trunk.name,
        kind=cast(TrunkKind, trunk.kind),
        enabled=trunk.enabled,
        host=trunk.host,
        port=trunk.port or DEFAULT_SIP_PORT,
        domain=trunk.domain,
        username=trunk.username,
        auth_name=trunk.auth_name,
        password=trunk.password,
        from_user=trunk.from_user,
        transport=trunk.transport,
        outbound_proxy=trunk.outbound_proxy,
        qualify_seconds=trunk.qualify_seconds,
        register_expiry=trunk.register_expiry_seconds,
        profile=profile,
    )


@functools.lru_cache(maxsize=4096)  # asked per inbound request: sources repeat
def ip_literal(host: str) -> str | None:
    """The address `host` spells (IPv6 brackets removed), or None for a host name."""
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return str(ipaddress.ip_address(bare))
    except ValueError:
        return None


def split_proxy(proxy: str) -> tuple[str, int | None]:
    """An outbound proxy "host[:port]" (IPv6 in brackets) as (host, port or None)."""
    if proxy.startswith("["):
        end = proxy.find("]")
        rest = proxy[end + 1 :]
        return proxy[1:end], int(rest[1:]) if rest.startswith(":") else None
    if proxy.count(":") == 1:
        host, port = proxy.split(":")
        return host, int(port)
    return proxy, None
