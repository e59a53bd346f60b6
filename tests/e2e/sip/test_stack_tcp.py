"""A real SipStack exercised over TCP: framing, keep-alive, limits, connection reuse."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket

import pytest

from kilopbx.sip.message import SipRequest, SipResponse, make_response
from kilopbx.sip.stack import SipStack
from kilopbx.sip.transaction_user import ServerTransactionHandle
from kilopbx.sip.transport import TransportLimits
from tests.e2e.sip.helpers import (
    HOST,
    WAIT,
    RecordingHandler,
    TcpClient,
    parse_headers,
    request_bytes,
    until,
)


async def test_options_over_tcp(stack: SipStack, handler: RecordingHandler) -> None:
    client = await TcpClient.connect(stack.port)
    try:
        await client.send(request_bytes("OPTIONS", branch="z9hG4bK-tcp"))
        response = await client.response()
        assert response.status == 200
        assert handler.sources[0].transport == "tcp"
        assert stack.tcp is not None and stack.tcp.connection_count == 1
    finally:
        await client.close()


async def test_tcp_keepalive_ping_gets_pong(stack: SipStack) -> None:
    client = await TcpClient.connect(stack.port)
    try:
        await client.send(b"\r\n\r\n")
        assert await asyncio.wait_for(client.reader.readexactly(2), WAIT) == b"\r\n"
    finally:
        await client.close()


async def test_tcp_pipelined_and_split_messages(stack: SipStack, handler: RecordingHandler) -> None:
    client = await TcpClient.connect(stack.port)
    try:
        first = request_bytes("INFO", branch="z9hG4bK-p1", body=b"one")
        second = request_bytes("INFO", branch="z9hG4bK-p2", body=b"two")
        await client.send(first + second)
        responses = [await client.response(), await client.response()]
        assert sorted(r.call_id for r in responses) == ["z9hG4bK-p1@e2e", "z9hG4bK-p2@e2e"]
        third = request_bytes("INFO", branch="z9hG4bK-p3", body=b"three")
        for index in range(0, len(third), 7):
            await client.send(third[index : index + 7])
        response = await client.response()
        assert response.call_id == "z9hG4bK-p3@e2e"
        assert [r.body for r in handler.requests] == [b"one", b"two", b"three"]
    finally:
        await client.close()


async def test_tcp_oversized_message_closes_connection(stack: SipStack) -> None:
    client = await TcpClient.connect(stack.port)
    try:
        huge = request_bytes("INFO", branch="z9hG4bK-big", body=b"x" * 20_000)
        await client.send(huge)
        items = []
        with pytest.raises(ConnectionResetError):
            while True:
                items.append(await client.item())
        assert all(isinstance(i, SipResponse) and i.status == 413 for i in items)
    finally:
        await client.close()


async def test_tcp_garbage_closes_only_that_connection(stack: SipStack) -> None:
    bad = await TcpClient.connect(stack.port)
    good = await TcpClient.connect(stack.port)
    try:
        await bad.send(os.urandom(20_000))
        assert await bad.closed_by_server()
        await good.send(request_bytes("OPTIONS", branch="z9hG4bK-good"))
        assert (await good.response()).status == 200
    finally:
        await bad.close()
        await good.close()


async def test_request_to_tcp_registered_peer_reuses_its_connection(
    stack: SipStack, handler: RecordingHandler
) -> None:
    client = await TcpClient.connect(stack.port)
    try:
        await client.send(request_bytes("REGISTER", branch="z9hG4bK-tcpreg"))
        assert (await client.response()).status == 200
        registered_from = handler.sources[0]
        request = SipRequest(
            "OPTIONS",
            "sip:phone@127.0.0.1",
            parse_headers(
                "From: <sip:pbx@example.com>;tag=k",
                "To: <sip:phone@example.com>",
                "Call-ID: keepalive-1",
                "CSeq: 1 OPTIONS",
            ),
        )
        pending = asyncio.ensure_future(stack.send_request(request, registered_from))
        incoming = await client.item()
        assert isinstance(incoming, SipRequest)
        assert incoming.method == "OPTIONS"
        assert incoming.top_via is not None and incoming.top_via.transport == "TCP"
        await client.send(make_response(incoming, 200, to_tag="phone").to_bytes())
        response = await asyncio.wait_for(pending, WAIT)
        assert response.status == 200
        assert stack.tcp is not None and stack.tcp.connection_count == 1
    finally:
        await client.close()


async def test_tcp_newcomer_beyond_the_host_cap_evicts_the_oldest_idle(
    handler: RecordingHandler,
) -> None:
    stack = SipStack(handler, limits=TransportLimits(max_connections_per_host=2))
    await stack.start(HOST, 0)
    clients = [await TcpClient.connect(stack.port) for _ in range(2)]
    try:
        await clients[0].send(request_bytes("OPTIONS", branch="z9hG4bK-cap0"))
        assert (await clients[0].response()).status == 200  # now younger than clients[1]
        clients.append(await TcpClient.connect(stack.port))
        assert await clients[1].closed_by_server()
        for index in (0, 2):
            await clients[index].send(request_bytes("OPTIONS", branch=f"z9hG4bK-cap{index}x"))
            assert (await clients[index].response()).status == 200
    finally:
        for client in clients:
            await client.close()
        await stack.stop()


async def test_trusted_tcp_connections_are_never_evicted(handler: RecordingHandler) -> None:
    stack = SipStack(handler, limits=TransportLimits(max_connections_per_host=2))
    await stack.start(HOST, 0)
    phones = [await TcpClient.connect(stack.port) for _ in range(2)]
    late: TcpClient | None = None
    try:
        for index, phone in enumerate(phones):
            await phone.send(request_bytes("INFO", branch=f"z9hG4bK-trust{index}"))
            assert (await phone.response()).status == 200
            stack.trust_connection(handler.sources[-1])  # what the registrar does
        late = await TcpClient.connect(stack.port)
        assert await late.closed_by_server()  # refused: nobody untrusted to make room
        for index, phone in enumerate(phones):
            await phone.send(request_bytes("OPTIONS", branch=f"z9hG4bK-still{index}"))
            assert (await phone.response()).status == 200
    finally:
        for client in [*phones, *([late] if late else [])]:
            await client.close()
        await stack.stop()


async def test_trickled_bytes_do_not_keep_an_untrusted_connection(
    handler: RecordingHandler,
) -> None:
    limits = TransportLimits(untrusted_idle_timeout=0.3)
    stack = SipStack(handler, limits=limits)
    await stack.start(HOST, 0)
    trickler = await TcpClient.connect(stack.port)
    phone = await TcpClient.connect(stack.port)
    try:
        await phone.send(request_bytes("INFO", branch="z9hG4bK-phone"))
        assert (await phone.response()).status == 200
        stack.trust_connection(handler.sources[-1])
        message = request_bytes("OPTIONS", branch="z9hG4bK-trickle")
        loop = asyncio.get_running_loop()
        started = loop.time()
        for index in range(len(message)):
            if trickler.reader.at_eof() or loop.time() - started > 3.0:
                break
            with contextlib.suppress(ConnectionError):
                await trickler.send(message[index : index + 1])
            await phone.send(b"\r\n\r\n")  # keep-alive pings keep a trusted connection
            assert await asyncio.wait_for(phone.reader.readexactly(2), WAIT) == b"\r\n"
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(trickler.reader.read(1), 0.05)
        assert trickler.reader.at_eof()
        assert loop.time() - started < 1.5  # 0.3 s idle plus a sweep, not the whole trickle
        await phone.send(request_bytes("OPTIONS", branch="z9hG4bK-phone2"))
        assert (await phone.response()).status == 200
    finally:
        await trickler.close()
        await phone.close()
        await stack.stop()


async def test_idle_tcp_connection_is_closed(handler: RecordingHandler) -> None:
    stack = SipStack(handler, limits=TransportLimits(idle_timeout=0.2))
    await stack.start(HOST, 0)
    client = await TcpClient.connect(stack.port)
    try:
        await client.send(request_bytes("OPTIONS", branch="z9hG4bK-idle"))
        assert (await client.response()).status == 200
        assert await client.closed_by_server()
        assert stack.tcp is not None and stack.tcp.connection_count == 0
    finally:
        await client.close()
        await stack.stop()


async def test_idle_peer_that_never_reads_is_dropped_despite_unsent_data(
    handler: RecordingHandler,
) -> None:
    limits = TransportLimits(idle_timeout=0.3, max_write_buffer=64 * 1024 * 1024)
    stack = SipStack(handler, limits=limits)
    await stack.start(HOST, 0)
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    try:
        await asyncio.wait_for(loop.sock_connect(sock, (HOST, stack.port)), WAIT)
        tcp = stack.tcp
        assert tcp is not None
        await until(lambda: tcp.connection_count == 1)
        peer = sock.getsockname()
        connection = tcp.connection_to(HOST, peer[1])
        assert connection is not None
        # Queue more than the kernel buffers hold: this peer never reads a byte.
        for _ in range(64):
            assert tcp.send(b"x" * 512 * 1024, HOST, peer[1])
            await asyncio.sleep(0.01)
            transport = connection._transport
            if transport is not None and transport.get_write_buffer_size() > 0:
                break
        assert connection._transport is not None
        assert connection._transport.get_write_buffer_size() > 0
        await until(lambda: tcp.connection_count == 0)
        assert connection.closed
    finally:
        sock.close()
        await stack.stop()


async def test_tcp_response_reopens_to_via_when_request_connection_closed() -> None:
    release = asyncio.Event()

    class Slow:
        async def on_request(self, transaction: ServerTransactionHandle) -> None:
            await release.wait()
            transaction.respond(200)

    stack = SipStack(Slow())
    await stack.start(HOST, 0)
    arrived: asyncio.Queue[bytes] = asyncio.Queue()

    async def phone_listener(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        arrived.put_nowait(await reader.readuntil(b"\r\n\r\n"))
        writer.close()

    phone = await asyncio.start_server(phone_listener, HOST, 0)
    phone_port = phone.sockets[0].getsockname()[1]
    client = await TcpClient.connect(stack.port)
    try:
        await client.send(
            request_bytes("INFO", branch="z9hG4bK-reopen", sent_by=f"{HOST}:{phone_port}")
        )
        await client.close()
        assert stack.tcp is not None
        tcp = stack.tcp
        await until(lambda: tcp.connection_count == 0)  # the stack has seen the close
        release.set()
        head = await asyncio.wait_for(arrived.get(), WAIT)
        assert head.startswith(b"SIP/2.0 200 OK")
        assert b"z9hG4bK-reopen" in head
    finally:
        phone.close()
        await stack.stop()
