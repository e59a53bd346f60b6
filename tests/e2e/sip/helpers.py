"""Clients and a recording handler for tests of a real SipStack on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import cast

from kilopbx.sip.headers import Headers
from kilopbx.sip.message import SipRequest, SipResponse
from kilopbx.sip.parser import StreamFramer, parse_message
from kilopbx.sip.transaction_user import ServerTransactionHandle
from kilopbx.sip.transport import Source

HOST = "127.0.0.1"


WAIT = 5.0  # generous upper bound for one exchange on loopback


class RecordingHandler:
    """Answers INFO/REGISTER with 200, leaves OPTIONS to the stack, counts calls."""

    def __init__(self) -> None:
        self.requests: list[SipRequest] = []
        self.sources: list[Source] = []
        self.banned: set[str] = set()
        self.refused = asyncio.Event()
        self.acks: list[SipRequest] = []
        self.acked = asyncio.Event()
        self.transactions: list[ServerTransactionHandle] = []

    def allow_source(self, host: str) -> bool:
        if host in self.banned:
            self.refused.set()
            return False
        return True

    def inspect_request(self, request: SipRequest, source: Source) -> bool:
        return request.headers.get("User-Agent") != "friendly-scanner"

    def on_ack(self, request: SipRequest, source: Source) -> None:
        self.acks.append(request)
        self.acked.set()

    async def on_request(self, transaction: ServerTransactionHandle) -> None:
        self.requests.append(transaction.request)
        self.sources.append(transaction.source)
        self.transactions.append(transaction)
        method = transaction.request.method
        if method in ("INFO", "REGISTER"):
            transaction.respond(200, headers=[("X-Seen", str(len(self.requests)))])
        elif method == "INVITE" and "answer" in transaction.request.uri:
            transaction.respond(200, headers=[("Contact", "<sip:pbx@127.0.0.1>")])
        elif method == "INVITE":
            transaction.respond(180)


def request_bytes(
    method: str = "OPTIONS",
    *,
    uri: str = "sip:pbx@127.0.0.1",
    branch: str = "z9hG4bK-e2e-1",
    sent_by: str = "192.0.2.10:5099",
    rport: bool = True,
    cseq: int = 1,
    extra: str = "",
    body: bytes = b"",
) -> bytes:
    via = f"SIP/2.0/UDP {sent_by};branch={branch}" + (";rport" if rport else "")
    head = (
        f"{method} {uri} SIP/2.0\r\n"
        f"Via: {via}\r\n"
        "Max-Forwards: 70\r\n"
        "From: <sip:alice@example.com>;tag=a1\r\n"
        "To: <sip:pbx@example.com>\r\n"
        f"Call-ID: {branch}@e2e\r\n"
        f"CSeq: {cseq} {method}\r\n"
        f"{extra}"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class UdpClient(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received: asyncio.Queue[bytes] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received.put_nowait(data)

    def send(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.sendto(data)

    async def response(self) -> SipResponse:
        message = parse_message(await asyncio.wait_for(self.received.get(), WAIT))
        assert isinstance(message, SipResponse)
        return message

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])


class TcpClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.framer = StreamFramer()
        self.pending: list[object] = []

    @classmethod
    async def connect(cls, port: int) -> TcpClient:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), WAIT)
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def item(self) -> object:
        while not self.pending:
            chunk = await asyncio.wait_for(self.reader.read(65536), WAIT)
            if not chunk:
                raise ConnectionResetError("server closed the connection")
            self.pending.extend(self.framer.feed(chunk))
        return self.pending.pop(0)

    async def response(self) -> SipResponse:
        item = await self.item()
        assert isinstance(item, SipResponse), item
        return item

    async def closed_by_server(self) -> bool:
        while True:
            chunk = await asyncio.wait_for(self.reader.read(65536), WAIT)
            if not chunk:
                return True

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


async def until(condition: Callable[[], bool]) -> None:
    """Wait for a state change that has no event to await, bounded by WAIT."""

    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), WAIT)


def parse_headers(*lines: str) -> Headers:
    headers = Headers()
    for line in lines:
        name, _, value = line.partition(":")
        headers.add(name, value.strip())
    return headers
