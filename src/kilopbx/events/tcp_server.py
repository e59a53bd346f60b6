"""TCP event delivery (conventions §10.3): the application connects, logs in with the plain
API password, and receives one compact JSON object per event, each followed by CRLFCRLF.

At most ``MAX_CLIENTS`` connections are open. When they are all taken, a newcomer takes
the slot of a connection that has not logged in yet (the oldest of the address holding
the most), so silent connections cannot lock the applications out."""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from kilopbx.connection_slots import ConnectionSlots
from kilopbx.events.render import RenderedEvent, render_once
from kilopbx.events.types import BootUp
from kilopbx.events.versions import EventFormat, event_format_for

log = logging.getLogger(__name__)

LOGIN_TIMEOUT = 10.0
MAX_CLIENTS = 16
MAX_BLOCK = 4096
BOOTUP_WINDOW = 300.0
MAX_BUFFERED = 4 * 1024 * 1024

SUCCESS = b"Response: Success\r\nMessage: Authentication accepted\r\n\r\n"
FAILED = b"Response: Error\r\nMessage: Authentication failed\r\n\r\n"
LOCKED = b"Response: Error\r\nMessage: IP locked out\r\n\r\n"
NOT_ALLOWED = b"Response: Error\r\nMessage: IP not allowed\r\n\r\n"
PONG = b"Response: Pong\r\n\r\n"


@dataclass
class TcpAuth:
    username: Callable[[], str]
    password: Callable[[], str]
    ip_allowed: Callable[[str], bool]
    is_locked: Callable[[str], Awaitable[bool]]  # blocked after failed logins
    failed: Callable[[str], Awaitable[None]]
    succeeded: Callable[[str], Awaitable[None]]
    uptime: Callable[[], float]


@dataclass(eq=False)
class _Client:
    writer: asyncio.StreamWriter
    event_format: EventFormat


class TcpEventServer:
    def __init__(self, host: str, port: int, auth: TcpAuth, serial: str) -> None:
        self._host, self._port = host, port
        self._auth = auth
        self._serial = serial
        self._clients: set[_Client] = set()
        self._open: set[asyncio.StreamWriter] = set()
        self._logging_in: ConnectionSlots[asyncio.StreamWriter] = ConnectionSlots()
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        try:
            self._server = await asyncio.start_server(self._handle, self._host, self._port)
        except OSError as exc:
            where = f"{self._host}:{self._port}"
            message = f"cannot listen for TCP event clients on {where}: {exc.strerror}"
            raise OSError(exc.errno, message) from exc

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for client in list(self._clients):
            client.writer.close()

    def broadcast(self, event: RenderedEvent) -> None:
        for client in list(self._clients):
            self._send(client, event)

    def _send(self, client: _Client, event: RenderedEvent) -> None:
        if client.writer.is_closing():
            self._clients.discard(client)
            return
        if client.writer.transport.get_write_buffer_size() > MAX_BUFFERED:
            # the client stopped reading: it must reconnect and log in again (§10.3)
            log.warning("TCP event client not reading (over %d bytes queued): closed", MAX_BUFFERED)
            self._clients.discard(client)
            client.writer.transport.abort()
            return
        for text in event.texts(client.event_format):
            client.writer.write(text.encode() + b"\r\n\r\n")

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        ip = peer[0] if peer else ""
        if len(self._open) >= MAX_CLIENTS:
            self._evict(self._logging_in.eviction_candidate())
        if len(self._open) >= MAX_CLIENTS:
            writer.close()  # every slot holds a logged-in application
            return
        self._open.add(writer)
        self._logging_in.add(ip, writer)
        try:
            await self._serve(ip, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            self._forget(writer)
            writer.close()

    def _evict(self, writer: asyncio.StreamWriter | None) -> None:
        if writer is not None:
            self._forget(writer)
            writer.transport.abort()

    def _forget(self, writer: asyncio.StreamWriter) -> None:
        self._open.discard(writer)
        self._logging_in.remove(writer)

    async def _serve(
        self, ip: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if not self._auth.ip_allowed(ip):
            writer.write(NOT_ALLOWED)
            return
        try:
            block = await asyncio.wait_for(_read_block(reader), LOGIN_TIMEOUT)
        except TimeoutError:
            return
        if await self._auth.is_locked(ip):
            writer.write(LOCKED)
            return
        user_ok = hmac.compare_digest(
            block.get("username", "").encode(), self._auth.username().encode()
        )
        pass_ok = hmac.compare_digest(
            block.get("secret", "").encode(), self._auth.password().encode()
        )
        if block.get("action", "").lower() != "login" or not (user_ok and pass_ok):
            await self._auth.failed(ip)
            writer.write(FAILED)
            return
        await self._auth.succeeded(ip)
        self._logging_in.remove(writer)
        client = _Client(writer, event_format_for(block.get("version", "")))
        writer.write(SUCCESS)
        if self._auth.uptime() <= BOOTUP_WINDOW:
            self._send(client, render_once(BootUp(), self._serial))
        self._clients.add(client)
        try:
            while True:
                request = await _read_block(reader)
                if request.get("action", "").lower() == "ping":
                    writer.write(PONG)
        finally:
            self._clients.discard(client)


async def _read_block(reader: asyncio.StreamReader) -> dict[str, str]:
    """Read `Key: value` lines up to an empty line; keys lower-cased."""
    fields: dict[str, str] = {}
    size = 0
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("closed")
        size += len(line)
        if size > MAX_BLOCK:
            raise ConnectionError("login block too large")
        text = line.decode("utf-8", "replace").strip()
        if not text:
            if fields:
                return fields
            continue
        key, _, value = text.partition(":")
        fields[key.strip().lower()] = value.strip()
