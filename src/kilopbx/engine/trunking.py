"""What the call engine asks about SIP trunks while it routes a call.

The engine owns this interface; the trunks feature implements it (registration to the
provider, RFC 3263 resolution, keep-alives, live state) and publishes it as
`TRUNK_LINES`. Calls through a trunk use only what is here, so the engine imports no
feature and a trunk's runtime can change without touching call logic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from kilopbx.core.registry import Key

TrunkKind = Literal["register", "peer", "account"]


@dataclass(frozen=True)
class TrunkTarget:
    """One place an outbound call through a trunk can be sent, already resolved."""

    host: str  # an IP address literal
    port: int
    transport: str  # "udp" | "tcp"


@dataclass(frozen=True)
class TrunkProfile:
    """A trunk as a call sees it: identity, credentials and caller-ID settings."""

    name: str
    kind: TrunkKind
    domain: str  # the provider's SIP domain (Request-URI / To host); "" = the host
    username: str
    auth_name: str  # "" = username
    password: str
    from_user: str  # "" = the caller-ID number
    caller_id_number: str
    caller_id_name: str
    codecs: tuple[str, ...]
    dtmf_mode: str
    max_channels: int  # 0 = unlimited
    dids: tuple[tuple[str, str], ...] = ()  # (dnis label, DID number) from `didsetting`
    # the identity headers sent besides From: "pai" (RFC 3325), "rpid" (Remote-Party-ID)
    identity_headers: frozenset[str] = frozenset({"pai", "rpid"})
    # inbound calls wait for the application's accept / refuse (engine/inbound_window.py)
    inbound_control: bool = False

    def __repr__(self) -> str:  # never shows the password
        return f"TrunkProfile(name={self.name!r}, kind={self.kind!r})"


class TrunkLines(Protocol):
    """The trunks' runtime: who an inbound request comes from, where an outbound call
    goes, and how each attempt went."""

    def profile(self, name: str) -> TrunkProfile | None: ...

    def identify(self, host: str, port: int) -> TrunkProfile | None:
        """The trunk an unauthenticated inbound request from `host:port` belongs to
        (peer trunks by resolved address and port; register trunks by the addresses
        of their provider), or None."""
        ...

    def claimed(self, host: str) -> TrunkProfile | None:
        """The trunk whose provider is named ``host`` (its host or domain, as an INVITE's
        From says): a request claiming it that ``identify`` did not place is refused
        and counts toward the sender's ban."""
        ...

    async def targets(self, name: str) -> Sequence[TrunkTarget]:
        """Where to send a call through trunk `name`, in failover order (RFC 3263 for
        a host name; for an account trunk, where the remote side registered from).
        Empty when the trunk is unknown, disabled or not reachable now."""
        ...

    def report(self, name: str, target: TrunkTarget, reachable: bool) -> None:
        """How a call attempt to `target` went, so a dead target is tried last."""
        ...


TRUNK_LINES: Key[TrunkLines] = Key("trunk lines")
