"""The API's TCP listener: plain HTTP and HTTPS on one port, told apart by the first byte.

Real clients use both schemes against 8088, so each accepted socket is peeked at: a TLS
handshake starts with 0x16. The socket is then handed to aiohttp's low-level server,
wrapped in TLS or not. What a connection may hold before its request is in (slots,
time) is decided by the shared ``ConnectionGuard``; this module only does the I/O.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Callable
from typing import cast

from aiohttp import web

from kilopbx.api.connection_guard import ConnectionGuard

log = logging.getLogger(__name__)

TLS_HANDSHAKE = 0x16
SWEEP_INTERVAL = 0.25
LISTEN_BACKLOG = 1024


class _Connection:
    """One accepted socket: sniffed, then handed to aiohttp behind a ``_Relay``."""

    __slots__ = (
        "_listener",
        "accepted_at",
        "address",
        "closed",
        "last_active",
        "sock",
        "task",
        "transport",
    )

    def __init__(self, listener: SniffingListener, sock: socket.socket, address: str) -> None:
        self._listener = listener
        self.sock = sock
        self.address = address
        self.accepted_at = 0.0
        self.last_active = 0.0
        self.transport: asyncio.Transport | None = None
        self.task: asyncio.Task[None] | None = None
        self.closed = False

    def abort(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.transport is not None:
            self.transport.abort()
            return
        if self.task is not None:  # TLS handshake or set-up under way
            self.task.cancel()
        else:  # still waiting for the first byte
            with contextlib.suppress(ValueError, OSError):
                self._listener.loop.remove_reader(self.sock.fileno())
        self.sock.close()


class _Relay(asyncio.Protocol):
    """Sits between the transport and aiohttp's protocol to see bytes arrive and the
    connection end; everything else passes straight through."""

    __slots__ = ("_connection", "_guard", "_inner")

    def __init__(
        self, inner: asyncio.Protocol, connection: _Connection, guard: ConnectionGuard
    ) -> None:
        self._inner = inner
        self._connection = connection
        self._guard = guard

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        connection = self._connection
        # uvloop's transports do not subclass asyncio.Transport: a cast, not isinstance
        connection.transport = cast(asyncio.Transport, transport)
        connection.task = None
        self._guard.attach(connection, transport)
        self._inner.connection_made(transport)
        if connection.closed:  # evicted during the TLS handshake
            connection.transport.abort()

    def data_received(self, data: bytes) -> None:
        self._guard.active(self._connection)
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._connection.closed = True
        self._guard.release(self._connection)
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


class SniffingListener:
    def __init__(
        self,
        protocol_factory: Callable[[], asyncio.Protocol],
        host: str,
        port: int,
        ssl_context: ssl.SSLContext | None,
        guard: ConnectionGuard,
        *,
        allow_plain: bool = True,
    ) -> None:
        self._factory = protocol_factory
        self._host = host
        self._port = port
        self._ssl = ssl_context
        self._guard = guard
        self._allow_plain = allow_plain
        self._sock: socket.socket | None = None
        self._accept_task: asyncio.Task[None] | None = None
        self._sweeper: asyncio.TimerHandle | None = None
        self.loop = asyncio.get_running_loop()

    @property
    def port(self) -> int:
        assert self._sock is not None
        port: int = self._sock.getsockname()[1]
        return port

    async def start(self) -> None:
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self._host, self._port))
        except OSError as exc:
            sock.close()
            where = f"{self._host}:{self._port}"
            raise OSError(
                exc.errno, f"cannot listen for the API on {where}: {exc.strerror}"
            ) from exc
        sock.listen(LISTEN_BACKLOG)
        sock.setblocking(False)
        self._sock = sock
        self._accept_task = self.loop.create_task(self._accept_loop())
        self._sweep()

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self._accept_task is not None:
            self._accept_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._accept_task
        self._guard.abort_all()
        if self._sock is not None:
            self._sock.close()

    def _sweep(self) -> None:
        self._guard.expire()
        self._sweeper = self.loop.call_later(SWEEP_INTERVAL, self._sweep)

    async def _accept_loop(self) -> None:
        assert self._sock is not None
        loop = self.loop
        while True:
            try:
                conn, addr = await loop.sock_accept(self._sock)
            except asyncio.CancelledError:
                raise
            except OSError as exc:
                log.warning("accept failed: %s", exc)
                await asyncio.sleep(0.05)
                continue
            address = str(addr[0]) if isinstance(addr, tuple) else ""
            if address.startswith("::ffff:"):
                address = address[7:]
            conn.setblocking(False)
            connection = _Connection(self, conn, address)
            if not self._guard.admit(connection):
                conn.close()
            else:
                self._sniff(connection)
            # let the connections already accepted read and answer before the next accept,
            # so a burst from one client is served instead of piling up as waiting slots
            await asyncio.sleep(0)

    def _sniff(self, connection: _Connection) -> None:
        """Peek at the first byte, now if it is already there (the usual case), else as
        soon as the socket is readable."""
        if not self._peeked(connection):
            sock = connection.sock
            self.loop.add_reader(sock.fileno(), self._readable, connection)

    def _readable(self, connection: _Connection) -> None:
        self.loop.remove_reader(connection.sock.fileno())
        if not connection.closed and not self._peeked(connection):
            self._close(connection)  # readable yet nothing to read: an error

    def _peeked(self, connection: _Connection) -> bool:
        """Hand the connection over if its first byte is in; False if there is none yet."""
        try:
            data = connection.sock.recv(1, socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            self._close(connection)
            return True
        if not data:  # closed before sending anything
            self._close(connection)
            return True
        use_tls = data[0] == TLS_HANDSHAKE
        if (use_tls and self._ssl is None) or (not use_tls and not self._allow_plain):
            self._close(connection)
            return True
        self._guard.active(connection)
        connection.task = self.loop.create_task(self._hand_over(connection, use_tls))
        return True

    async def _hand_over(self, connection: _Connection, use_tls: bool) -> None:
        guard = self._guard
        try:
            await self.loop.connect_accepted_socket(
                lambda: _Relay(self._factory(), connection, guard),
                connection.sock,
                ssl=self._ssl if use_tls else None,
                ssl_handshake_timeout=guard.limits.request_timeout if use_tls else None,
            )
        except asyncio.CancelledError:
            connection.sock.close()
            guard.release(connection)
        except (OSError, ssl.SSLError, ConnectionError) as exc:
            log.debug("connection dropped during set-up: %s", exc)
            connection.task = None  # this task is ending: nothing to cancel
            self._close(connection)

    def _close(self, connection: _Connection) -> None:
        connection.abort()
        self._guard.release(connection)


def make_server(handler: Callable[[web.BaseRequest], object]) -> web.Server:
    # no access log: tokens travel in the query string and must not reach the logs
    return web.Server(handler, handler_cancellation=True, access_log=None)  # type: ignore[arg-type]
