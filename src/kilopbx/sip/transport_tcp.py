"""SIP over TCP (§18.3): a listening server plus outgoing connections, one table of
connections keyed by the peer's address so responses and requests to a registered
phone reuse the connection it opened.

Each connection frames its byte stream with the parser's StreamFramer and is
bounded: message size, unsent bytes, idle time, connection counts.

A connection is *trusted* once a request on it was digest-authenticated (the registrar
says so through ``SipStack.trust_connection``) or when we opened it ourselves. Only a
whole message (or, on a trusted connection, a keep-alive ping) counts as activity, so a
byte now and then no longer keeps a connection alive. When a count limit is reached
the newcomer takes the slot of the least recently active untrusted connection (of the
same host, or of the host holding the most); it is refused only when every connection
in the way is trusted, so a flood of idle connections cannot lock phones out.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from typing import cast

from kilopbx.connection_slots import ConnectionSlots
from kilopbx.sip.errors import SipParseError
from kilopbx.sip.parser import KeepAlivePing, StreamFramer
from kilopbx.sip.transport import IncomingSink, RateLimitedLog, Source, TransportLimits

logger = logging.getLogger(__name__)

PeerKey = tuple[str, int]
SendErrorCallback = Callable[[], None]

KEEPALIVE_PONG = b"\r\n"  # RFC 5626 §4.4.1: a single CRLF answers a double-CRLF ping


class TcpConnection(asyncio.Protocol):
    def __init__(self, owner: TcpTransport, *, trusted: bool = False) -> None:
        self._owner = owner
        self.trusted = trusted
        self.opened_here = trusted  # only the connections we open start trusted
        self._transport: asyncio.Transport | None = None
        self._framer = StreamFramer(max_message_size=owner.limits.max_message_size)
        self.peer: PeerKey = ("", 0)
        self.source = Source("tcp", "", 0)
        self.last_activity = 0.0
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport: no isinstance here.
        self._transport = cast(asyncio.Transport, transport)
        peername = transport.get_extra_info("peername")
        self.peer = (peername[0], peername[1]) if peername else ("", 0)
        self.source = Source("tcp", self.peer[0], self.peer[1])
        self.last_activity = self._owner.loop.time()
        if not self._owner.admit(self):
            self.abort()

    def data_received(self, data: bytes) -> None:
        owner = self._owner
        try:
            if not owner.sink.allow_source(self.peer[0]):
                self.abort()
                return
            items = self._framer.feed(data)
        except Exception:
            owner.log.exception("unexpected error framing TCP data from %s:%s", *self.peer)
            self.abort()
            return
        for item in items:
            if self.closed:
                return
            if isinstance(item, KeepAlivePing):
                if self.trusted:
                    owner.active(self)
                self.write(KEEPALIVE_PONG)
                continue
            if not isinstance(item, SipParseError):
                owner.active(self)
            try:
                owner.sink.stream_item_received(item, self.source)
            except Exception:  # a bug in one message's handling must not kill the peer
                owner.log.exception("unexpected error handling a message from %s:%s", *self.peer)
            if isinstance(item, SipParseError) and item.fatal:
                owner.log.debug("closing %s:%s after fatal framing error: %s", *self.peer, item)
                self.close()
                return

    def eof_received(self) -> bool:
        return False  # half-closed SIP connections are useless: close both ways

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._owner.forget(self)

    @property
    def writable(self) -> bool:
        transport = self._transport
        return not self.closed and transport is not None and not transport.is_closing()

    def write(self, data: bytes) -> bool:
        transport = self._transport
        if self.closed or transport is None or transport.is_closing():
            return False
        if transport.get_write_buffer_size() + len(data) > self._owner.limits.max_write_buffer:
            self._owner.log.debug("peer %s:%s is not reading: dropping it", *self.peer)
            self.abort()
            return False
        transport.write(data)
        return True

    def close(self) -> None:
        if self._transport is not None and not self.closed:
            self._transport.close()

    def abort(self) -> None:
        if self._transport is not None and not self.closed:
            self.closed = True
            self._transport.abort()
            self._owner.forget(self)


class TcpTransport:
    def __init__(self, sink: IncomingSink, limits: TransportLimits) -> None:
        self.sink = sink
        self.limits = limits
        self.loop = asyncio.get_running_loop()
        self.log = RateLimitedLog(logger)
        self._server: asyncio.Server | None = None
        self._connections: dict[PeerKey, TcpConnection] = {}
        self._per_host: Counter[str] = Counter()
        # by host, least recently active first: eviction and idle sweep candidates
        self._untrusted: ConnectionSlots[TcpConnection] = ConnectionSlots()
        self._trusted: ConnectionSlots[TcpConnection] = ConnectionSlots()
        self.evicted = 0
        self._connecting: dict[PeerKey, asyncio.Task[TcpConnection | None]] = {}
        self._sweeper: asyncio.TimerHandle | None = None

    @classmethod
    async def listen(
        cls, sink: IncomingSink, host: str, port: int, limits: TransportLimits
    ) -> TcpTransport:
        transport = cls(sink, limits)
        transport._server = await transport.loop.create_server(
            lambda: TcpConnection(transport), host, port, reuse_address=True
        )
        transport._schedule_sweep()
        return transport

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    def connection_to(self, host: str, port: int) -> TcpConnection | None:
        """The open connection with that peer, if any is still writable."""
        connection = self._connections.get((host, port))
        return connection if connection is not None and connection.writable else None

    def admit(self, connection: TcpConnection) -> bool:
        host = connection.peer[0]
        if not self.sink.allow_source(host):
            return False
        previous = self._connections.get(connection.peer)
        if previous is not None and previous is not connection:
            previous.abort()
        if self._per_host[host] >= self.limits.max_connections_per_host:
            self._evict(self._untrusted.oldest(host))
            if self._per_host[host] >= self.limits.max_connections_per_host:
                self.log.debug("refusing %s: its connections are all trusted", host)
                return False
        if len(self._connections) >= self.limits.max_connections:
            self._evict(self._untrusted.eviction_candidate())
            if len(self._connections) >= self.limits.max_connections:
                self.log.debug("refusing %s: %d trusted connections", host, len(self._connections))
                return False
        self._connections[connection.peer] = connection
        self._per_host[host] += 1
        slots = self._trusted if connection.trusted else self._untrusted
        slots.add(host, connection)
        return True

    def trust(self, host: str, port: int) -> None:
        """A request on the connection with host:port was authenticated."""
        connection = self._connections.get((host, port))
        if connection is not None and not connection.trusted:
            connection.trusted = True
            self._untrusted.remove(connection)
            self._trusted.add(host, connection)

    def distrust(self, host: str, port: int) -> None:
        """What made the connection with host:port trusted is gone (its registration
        expired or was removed): it competes for slots like a newcomer again. A
        connection we opened ourselves stays trusted."""
        connection = self._connections.get((host, port))
        if connection is not None and connection.trusted and not connection.opened_here:
            connection.trusted = False
            self._trusted.remove(connection)
            self._untrusted.add(host, connection)

    def active(self, connection: TcpConnection) -> None:
        connection.last_activity = self.loop.time()
        (self._trusted if connection.trusted else self._untrusted).touch(connection)

    def forget(self, connection: TcpConnection) -> None:
        if self._connections.get(connection.peer) is connection:
            del self._connections[connection.peer]
            host = connection.peer[0]
            self._per_host[host] -= 1
            if self._per_host[host] <= 0:
                del self._per_host[host]
            self._untrusted.remove(connection)
            self._trusted.remove(connection)

    def _evict(self, connection: TcpConnection | None) -> None:
        if connection is not None:
            self.evicted += 1
            self.log.debug("evicting idle untrusted connection %s:%s", *connection.peer)
            connection.abort()

    def send(
        self, data: bytes, host: str, port: int, on_error: SendErrorCallback | None = None
    ) -> bool:
        """Write on the connection to host:port, opening one first if there is none.

        Returns False only for a failure known at once; a failed connect reports
        through ``on_error`` later.
        """
        connection = self._connections.get((host, port))
        if connection is not None:
            return connection.write(data)
        task = self._connecting.get((host, port))
        if task is None:
            task = self.loop.create_task(self._connect(host, port))
            self._connecting[(host, port)] = task
        task.add_done_callback(lambda done: self._send_after_connect(done, data, on_error))
        return True

    def _send_after_connect(
        self,
        done: asyncio.Task[TcpConnection | None],
        data: bytes,
        on_error: SendErrorCallback | None,
    ) -> None:
        failed = done.cancelled() or done.exception() is not None
        connection = None if failed else done.result()
        if connection is not None and connection.write(data):
            return
        if on_error is not None:
            on_error()

    async def _connect(self, host: str, port: int) -> TcpConnection | None:
        try:
            _, connection = await asyncio.wait_for(
                self.loop.create_connection(lambda: TcpConnection(self, trusted=True), host, port),
                self.limits.connect_timeout,
            )
        except (OSError, TimeoutError) as exc:
            self.log.debug("TCP connect to %s:%s failed: %s", host, port, exc)
            return None
        finally:
            self._connecting.pop((host, port), None)
        return None if connection.closed else connection

    @property
    def _untrusted_idle(self) -> float:
        return min(self.limits.untrusted_idle_timeout, self.limits.idle_timeout)

    def _schedule_sweep(self) -> None:
        interval = max(0.05, min(1.0, self._untrusted_idle / 4))
        self._sweeper = self.loop.call_later(interval, self._sweep_idle)

    def _sweep_idle(self) -> None:
        now = self.loop.time()
        for slots, timeout in (
            (self._untrusted, self._untrusted_idle),
            (self._trusted, self.limits.idle_timeout),
        ):
            deadline = now - timeout
            while (oldest := slots.oldest()) is not None and oldest.last_activity < deadline:
                # Not close(): it waits for unsent data to drain, which a peer that
                # stopped reading never lets happen, so its slot would be held forever.
                oldest.abort()
                slots.remove(oldest)  # even if abort() found it closed already
        self._schedule_sweep()

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        for task in list(self._connecting.values()):
            task.cancel()
        if self._server is not None:
            self._server.close()
        for connection in list(self._connections.values()):
            connection.abort()
        if self._server is not None:
            await self._server.wait_closed()
