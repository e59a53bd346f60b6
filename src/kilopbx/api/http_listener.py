"""The API's TCP listener: plain HTTP and HTTPS on one port, told apart by the first byte.

Real clients use both schemes against 8088, so each accepted socket is peeked at: a TLS
handshake starts with 0x16. The socket is then handed to aiohttp's low-level server,
wrapped in TLS or not. Slow or silent connections are dropped after a short wait and the
number of connections waiting for their first byte is capped.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
import ssl
from collections.abc import Callable

from aiohttp import web

log = logging.getLogger(__name__)

TLS_HANDSHAKE = 0x16
FIRST_BYTE_TIMEOUT = 5.0
MAX_SNIFFING = 256
# one address may not take every waiting slot (slowloris-style lock-out of the API)
MAX_SNIFFING_PER_ADDRESS = 16


class SniffingListener:
    def __init__(
        self,
        protocol_factory: Callable[[], asyncio.Protocol],
        host: str,
        port: int,
        ssl_context: ssl.SSLContext | None,
        *,
        allow_plain: bool = True,
    ) -> None:
        self._factory = protocol_factory
        self._host = host
        self._port = port
        self._ssl = ssl_context
        self._allow_plain = allow_plain
        self._sock: socket.socket | None = None
        self._accept_task: asyncio.Task[None] | None = None
        self._sniffing: set[asyncio.Task[None]] = set()
        self._sniffing_by_address: dict[str, int] = {}

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
        sock.listen(512)
        sock.setblocking(False)
        self._sock = sock
        self._accept_task = asyncio.get_running_loop().create_task(self._accept_loop())

    async def stop(self) -> None:
        if self._accept_task is not None:
            self._accept_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._accept_task
        for task in list(self._sniffing):
            task.cancel()
        if self._sock is not None:
            self._sock.close()

    async def _accept_loop(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._sock is not None
        while True:
            try:
                conn, _addr = await loop.sock_accept(self._sock)
            except asyncio.CancelledError:
                raise
            except OSError as exc:
                log.warning("accept failed: %s", exc)
                await asyncio.sleep(0.05)
                continue
            address = str(_addr[0]) if isinstance(_addr, tuple) else ""
            per_address = self._sniffing_by_address.get(address, 0)
            if len(self._sniffing) >= MAX_SNIFFING or per_address >= MAX_SNIFFING_PER_ADDRESS:
                conn.close()
                continue
            self._sniffing_by_address[address] = per_address + 1
            task = loop.create_task(self._hand_over(conn))
            self._sniffing.add(task)
            task.add_done_callback(functools.partial(self._sniffed, address=address))

    def _sniffed(self, task: asyncio.Task[None], address: str) -> None:
        self._sniffing.discard(task)
        left = self._sniffing_by_address.get(address, 1) - 1
        if left > 0:
            self._sniffing_by_address[address] = left
        else:
            self._sniffing_by_address.pop(address, None)

    async def _hand_over(self, conn: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        conn.setblocking(False)
        try:
            first = await asyncio.wait_for(_peek_first_byte(loop, conn), FIRST_BYTE_TIMEOUT)
        except (TimeoutError, OSError):
            conn.close()
            return
        if first is None:
            conn.close()
            return
        use_tls = first == TLS_HANDSHAKE
        if (use_tls and self._ssl is None) or (not use_tls and not self._allow_plain):
            conn.close()
            return
        try:
            await loop.connect_accepted_socket(
                self._factory, conn, ssl=self._ssl if use_tls else None
            )
        except (OSError, ssl.SSLError, ConnectionError) as exc:
            log.debug("connection dropped during set-up: %s", exc)
            conn.close()


async def _peek_first_byte(loop: asyncio.AbstractEventLoop, conn: socket.socket) -> int | None:
    readable = loop.create_future()
    fd = conn.fileno()

    def wake() -> None:
        if not readable.done():
            readable.set_result(None)

    loop.add_reader(fd, wake)
    try:
        await readable
    finally:
        loop.remove_reader(fd)
    data = conn.recv(1, socket.MSG_PEEK)
    return data[0] if data else None


def make_server(handler: Callable[[web.BaseRequest], object]) -> web.Server:
    # no access log: tokens travel in the query string and must not reach the logs
    return web.Server(handler, handler_cancellation=True, access_log=None)  # type: ignore[arg-type]
