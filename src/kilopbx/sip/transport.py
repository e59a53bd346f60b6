"""Transport-layer pieces that need no sockets: addresses, limits, Via stamping and
response routing (RFC 3261 §18.2, RFC 3581), and a rate-limited logger for hostile input.

The asyncio adapters are in ``transport_udp`` and ``transport_tcp``.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import time
from dataclasses import dataclass
from typing import Final, NamedTuple, Protocol

from kilopbx.sip.headers import split_list_value
from kilopbx.sip.memo import Memo
from kilopbx.sip.message import SipRequest
from kilopbx.sip.uri import SipUri, bare_host, hosts_equal
from kilopbx.sip.via import Via

SIP_DEFAULT_PORT: Final = 5060
RELIABLE_TRANSPORTS: Final = frozenset({"tcp", "tls", "ws", "wss", "sctp"})


class TransportAddress(NamedTuple):
    """Where a message came from or goes to: transport name (lower case), host, port."""

    transport: str
    host: str
    port: int

    @property
    def reliable(self) -> bool:
        return self.transport in RELIABLE_TRANSPORTS


Source = TransportAddress
Destination = TransportAddress


@dataclass(frozen=True, slots=True)
class TransportLimits:
    """Bounds that keep one hostile peer from exhausting the process."""

    max_message_size: int = 65_535  # a whole SIP message on a stream
    max_write_buffer: int = 1_048_576  # unsent bytes queued for a peer that does not read
    max_connections: int = 4096
    max_connections_per_host: int = 256
    idle_timeout: float = 600.0  # RFC 5626 keep-alives come every ~120 s
    # a stream nobody authenticated on: a phone registers within a round trip or two
    untrusted_idle_timeout: float = 30.0
    connect_timeout: float = 5.0


class IncomingSink(Protocol):
    """What the transports hand their traffic to (the SipStack)."""

    def allow_source(self, host: str) -> bool:
        """Cheap pre-parse filter (ban lists); False drops the traffic unread."""
        ...

    def datagram_received(self, data: bytes, source: Source) -> None: ...

    def stream_item_received(self, item: object, source: Source) -> None:
        """A parsed message, a SipParseError, or a keep-alive ping from a stream."""
        ...


def stamp_top_via(request: SipRequest, source: Source) -> Via | None:
    """Add ``received``/``rport`` to the request's top Via (§18.2.1, RFC 3581 §4) so that
    responses copy them; returns the top Via as it now stands (None if there is none).

    ``received`` is ours alone to decide: a client-supplied one is replaced or removed,
    or a forged ``received`` would aim our responses (and their retransmissions) at a
    third party.
    """
    top_via = request.top_via
    if top_via is None:
        return None
    needs_rport = top_via.rport == ""
    # RFC 3581 §4: with rport, received is added even when the host matches.
    wants_received = needs_rport or not hosts_equal(top_via.host, source.host)
    received = source.host if wants_received else None
    if not needs_rport and top_via.received == received:
        return top_via
    stamped = top_via.copy()
    if received is None:
        stamped.params.pop("received", None)
    else:
        stamped.params["received"] = received
    if needs_rport:
        stamped.params["rport"] = str(source.port)
    headers = request.headers
    lines = headers.get_lines("Via")
    first_line = split_list_value(lines[0])
    first_line[0] = str(stamped)
    # Headers can only replace all Via lines at once; one comma-joined line is equivalent.
    headers.set("Via", ", ".join([*first_line, *lines[1:]]))
    return stamped


def _port_or_none(text: str | None) -> int | None:
    """A port from header text, or None unless it is 1..65535 written in plain digits
    (an out-of-range port makes the stdlib loop's sendto raise OverflowError)."""
    if not text or len(text) > 5 or not text.isascii() or not text.isdigit():
        return None
    port = int(text)
    return port if 0 < port <= 65535 else None


def _ip_literal(host: str) -> bool:
    # A host name would make sendto resolve it: a blocking DNS lookup inside the loop.
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


# Asked for every request's top Via, which names the same few addresses again and again.
_is_ip_literal: Final = Memo(_ip_literal)


def response_destination(top_via: Via, source: Source) -> Destination:
    """Where responses to a request go (§18.2.2 and RFC 3581 §4).

    Over a stream the answer rides the connection the request came on, which the
    stream transport finds by the peer's address.

    ``maddr`` is ignored on purpose: honouring it (§18.2.2) lets anyone point our
    responses, retransmitted for up to 32 s, at any address of their choosing, a
    reflection and amplification vector. Answers go where the request came from.
    Anything unusable (a name, a bad port) falls back to the source address.
    """
    if source.reliable:
        return source
    host = bare_host(top_via.received or top_via.host)
    if not _is_ip_literal.get(host):
        return Destination("udp", source.host, source.port)
    rport = top_via.rport
    if rport is None:
        return Destination("udp", host, top_via.port or SIP_DEFAULT_PORT)
    port = _port_or_none(rport)
    if port is None:
        return Destination("udp", source.host, source.port)
    return Destination("udp", host, port)


def destination_for_uri(uri: SipUri) -> Destination:
    """Next-hop address for a SIP URI without DNS (RFC 3263 lite): maddr or host, the
    URI's port or 5060, its transport parameter or UDP. A host name stays a name;
    resolve it (``loop.getaddrinfo``) before sending, as sockets would block on it."""
    transport = uri.transport or "udp"
    host = bare_host(uri.maddr or uri.host)
    return Destination(transport, host, uri.port or SIP_DEFAULT_PORT)


class LocalAddresses:
    """Our address on the route to each peer, for Via when listening on a wildcard
    address. Connecting a UDP socket picks the route and sends nothing."""

    __slots__ = ("_cache", "_limit")

    def __init__(self, limit: int = 4096) -> None:
        self._cache: dict[str, str] = {}
        self._limit = limit

    def towards(self, remote_host: str) -> str:
        cached = self._cache.get(remote_host)
        if cached is not None:
            return cached
        family = socket.AF_INET6 if ":" in remote_host else socket.AF_INET
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as probe:
                probe.connect((bare_host(remote_host), 9))
                local = str(probe.getsockname()[0])
        except OSError:
            local = "127.0.0.1"
        if ":" in local:
            local = f"[{local}]"
        if len(self._cache) >= self._limit:
            self._cache.clear()
        self._cache[remote_host] = local
        return local


class RateLimitedLog:
    """Logging for events a hostile peer can trigger at will: after ``per_second``
    records in a second the rest are dropped at the cost of one comparison."""

    __slots__ = ("_budget", "_logger", "_per_second", "_window_start")

    def __init__(self, logger: logging.Logger, per_second: int = 10) -> None:
        self._logger = logger
        self._per_second = per_second
        self._budget = per_second
        self._window_start = 0.0

    def _allow(self) -> bool:
        if self._budget <= 0:
            now = time.monotonic()
            if now - self._window_start < 1.0:
                return False
            self._window_start = now
            self._budget = self._per_second
        if self._budget == self._per_second:
            self._window_start = time.monotonic()
        self._budget -= 1
        return True

    def debug(self, message: str, *args: object) -> None:
        if self._allow() and self._logger.isEnabledFor(logging.DEBUG):
            self._logger.debug(message, *args)

    def exception(self, message: str, *args: object) -> None:
        """An unexpected error (a bug) met while handling outside input."""
        if self._allow():
            self._logger.exception(message, *args)
