"""A real SipStack on 127.0.0.1 (UDP and TCP on one ephemeral port) exercised with
real datagrams and TCP streams, on uvloop as in production."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable
from typing import cast

import pytest
import uvloop

from kilopbx.sip.headers import Headers
from kilopbx.sip.message import SipRequest, SipResponse, make_response
from kilopbx.sip.parser import StreamFramer, parse_message
from kilopbx.sip.stack import SipStack
from kilopbx.sip.timers import TimerConfig
from kilopbx.sip.transaction_user import ServerTransactionHandle
from kilopbx.sip.transport import Source, TransportLimits

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


@pytest.fixture
async def handler() -> RecordingHandler:
    return RecordingHandler()


@pytest.fixture
async def stack(handler: RecordingHandler) -> AsyncIterator[SipStack]:
    sip = SipStack(
        handler,
        timers=TimerConfig(t1=0.05, t2=0.4, t4=0.5),
        limits=TransportLimits(max_message_size=8192, idle_timeout=30.0),
    )
    await sip.start(HOST, 0)
    yield sip
    await sip.stop()


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


@pytest.fixture
async def udp(stack: SipStack) -> AsyncIterator[UdpClient]:
    loop = asyncio.get_running_loop()
    transport, client = await loop.create_datagram_endpoint(
        UdpClient, remote_addr=(HOST, stack.port)
    )
    yield client
    transport.close()


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


async def test_options_over_udp_answered_with_capabilities_and_rport(
    stack: SipStack, udp: UdpClient, handler: RecordingHandler
) -> None:
    udp.send(request_bytes("OPTIONS"))
    response = await udp.response()
    assert response.status == 200
    assert "INVITE" in (response.headers.get("Allow") or "")
    assert response.headers.get("Accept") == "application/sdp"
    assert response.headers.get("Supported") is not None
    assert response.headers.get("Server") == "KiloPBX"
    assert response.to.tag
    via = response.top_via
    assert via is not None
    assert via.received == HOST
    assert via.rport == str(udp.port)
    assert len(handler.requests) == 1
    assert handler.sources[0] == Source("udp", HOST, udp.port)


async def test_received_added_without_rport(stack: SipStack, handler: RecordingHandler) -> None:
    # Without rport the answer goes to the Via port, so listen on the port we claim.
    loop = asyncio.get_running_loop()
    transport, client = await loop.create_datagram_endpoint(UdpClient, local_addr=(HOST, 0))
    try:
        port = client.port
        data = request_bytes("OPTIONS", sent_by=f"localhost:{port}", rport=False)
        transport.sendto(data, (HOST, stack.port))
        response = await client.response()
        via = response.top_via
        assert via is not None
        assert via.received == HOST
        assert via.rport is None
    finally:
        transport.close()


async def test_retransmission_gets_same_response_and_reaches_handler_once(
    stack: SipStack, udp: UdpClient, handler: RecordingHandler
) -> None:
    data = request_bytes("REGISTER", branch="z9hG4bK-retrans")
    udp.send(data)
    first = await udp.response()
    udp.send(data)
    second = await udp.response()
    assert first.status == 200
    assert first.to_bytes() == second.to_bytes()
    assert len(handler.requests) == 1


async def test_garbage_never_crashes_and_options_still_answered(
    stack: SipStack, udp: UdpClient, handler: RecordingHandler
) -> None:
    whole = request_bytes("OPTIONS", branch="z9hG4bK-after-garbage")
    garbage = [
        os.urandom(200),
        os.urandom(65_507),  # the largest UDP payload over IPv4
        b"INVITE sip:x SIP/2.0\r\n" + os.urandom(65_000),  # passes the cheap pre-check
        b"\x00" * 20,
        b"OPTIONS sip:x SIP/2.0\r\n",
        whole[: len(whole) // 2],
        b"SIP/2.0 200 OK\r\nVia: nonsense\r\n\r\n",
        b"INVITE sip:a@b SIP/2.0\r\nContent-Length: 99999999\r\n\r\n",
        b"\r\n\r\n",
        "ÿ✓ not sip at all".encode() * 10,
    ]
    for datagram in garbage:
        udp.send(datagram)
    udp.send(whole)
    response = await udp.response()
    assert response.status == 200
    assert response.call_id == "z9hG4bK-after-garbage@e2e"
    assert [r.method for r in handler.requests] == ["OPTIONS"]


async def test_malformed_but_answerable_request_gets_400(
    stack: SipStack, udp: UdpClient, handler: RecordingHandler
) -> None:
    bad = request_bytes("OPTIONS", branch="z9hG4bK-bad").replace(
        b"Max-Forwards: 70", b"Max-Forwards: lots"
    )
    udp.send(bad)
    response = await udp.response()
    assert response.status == 400
    assert response.top_via is not None
    assert response.top_via.branch == "z9hG4bK-bad"
    assert response.to.tag
    assert handler.requests == []


async def test_banned_source_and_scanner_are_dropped(
    stack: SipStack, udp: UdpClient, handler: RecordingHandler
) -> None:
    handler.banned.add(HOST)
    udp.send(request_bytes("OPTIONS", branch="z9hG4bK-banned"))
    await asyncio.wait_for(handler.refused.wait(), WAIT)
    handler.banned.clear()
    udp.send(
        request_bytes("OPTIONS", branch="z9hG4bK-scan", extra="User-Agent: friendly-scanner\r\n")
    )
    udp.send(request_bytes("OPTIONS", branch="z9hG4bK-welcome"))
    response = await udp.response()
    assert response.call_id == "z9hG4bK-welcome@e2e"
    assert [r.call_id for r in handler.requests] == ["z9hG4bK-welcome@e2e"]


async def test_cancel_answers_200_and_invite_487(
    stack: SipStack, udp: UdpClient, handler: RecordingHandler
) -> None:
    invite = request_bytes("INVITE", branch="z9hG4bK-inv", extra="Contact: <sip:a@192.0.2.10>\r\n")
    udp.send(invite)
    statuses = {(await udp.response()).status for _ in range(2)}
    assert statuses == {100, 180}
    udp.send(request_bytes("CANCEL", branch="z9hG4bK-inv"))
    answers = {}
    for _ in range(2):
        response = await udp.response()
        answers[response.cseq[1]] = response.status
    assert answers == {"CANCEL": 200, "INVITE": 487}
    udp.send(request_bytes("CANCEL", branch="z9hG4bK-unknown"))
    assert (await udp.response()).status == 481


async def test_non_2xx_final_is_retransmitted_until_ack(
    stack: SipStack, udp: UdpClient, handler: RecordingHandler
) -> None:
    # T1 is 50 ms here: the 487 comes again until the ACK arrives.
    udp.send(request_bytes("INVITE", branch="z9hG4bK-g", extra="Contact: <sip:a@x>\r\n"))
    await udp.response()
    await udp.response()
    udp.send(request_bytes("CANCEL", branch="z9hG4bK-g"))
    seen = [(await udp.response()).status for _ in range(4)]
    assert seen.count(487) >= 2
    ack = request_bytes("ACK", branch="z9hG4bK-g", cseq=1).replace(
        b"To: <sip:pbx@example.com>", b"To: <sip:pbx@example.com>;tag=x"
    )
    udp.send(ack)
    assert handler.acks == []  # absorbed by the INVITE server transaction


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


async def test_client_transaction_over_udp_to_a_second_stack(stack: SipStack) -> None:
    class Answering:
        async def on_request(self, transaction: ServerTransactionHandle) -> None:
            transaction.respond(202 if transaction.request.method == "MESSAGE" else 200)

    peer = SipStack(Answering(), timers=TimerConfig(t1=0.05))
    await peer.start(HOST, 0)
    try:
        request = SipRequest(
            "MESSAGE",
            f"sip:peer@{HOST}:{peer.port}",
            parse_headers(
                "From: <sip:pbx@example.com>;tag=p1",
                "To: <sip:peer@example.com>",
                "Call-ID: msg-1",
                "CSeq: 1 MESSAGE",
            ),
            b"hello",
        )
        for transport in ("udp", "tcp"):
            fresh = SipRequest(request.method, request.uri, request.headers.copy(), b"hello")
            response = await asyncio.wait_for(
                stack.send_request(fresh, Source(transport, HOST, peer.port)), WAIT
            )
            assert response.status == 202
            assert stack.table.client_count <= 1
    finally:
        await peer.stop()


async def test_client_transaction_times_out_with_408() -> None:
    stack = SipStack(RecordingHandler(), timers=TimerConfig(t1=0.01, t2=0.04))
    await stack.start(HOST, 0)
    loop = asyncio.get_running_loop()
    silent, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=(HOST, 0))
    try:
        port = silent.get_extra_info("sockname")[1]
        request = SipRequest(
            "OPTIONS",
            f"sip:nobody@{HOST}:{port}",
            parse_headers(
                "From: <sip:pbx@example.com>;tag=t",
                "To: <sip:nobody@example.com>",
                "Call-ID: timeout-1",
                "CSeq: 1 OPTIONS",
            ),
        )
        # Timer F = 64*T1 = 0.64 s here.
        response = await asyncio.wait_for(
            stack.send_request(request, Source("udp", HOST, port)), WAIT
        )
        assert response.status == 408
        assert stack.table.client_count == 0
    finally:
        silent.close()
        await stack.stop()


def parse_headers(*lines: str) -> Headers:
    headers = Headers()
    for line in lines:
        name, _, value = line.partition(":")
        headers.add(name, value.strip())
    return headers


def test_same_exchanges_on_uvloop() -> None:
    """Production runs on uvloop, whose transports differ from asyncio's in details."""

    async def scenario() -> None:
        assert isinstance(asyncio.get_running_loop(), uvloop.Loop)
        handler = RecordingHandler()
        stack = SipStack(handler, timers=TimerConfig(t1=0.05))
        await stack.start(HOST, 0)
        loop = asyncio.get_running_loop()
        transport, udp = await loop.create_datagram_endpoint(
            UdpClient, remote_addr=(HOST, stack.port)
        )
        tcp = await TcpClient.connect(stack.port)
        try:
            udp.send(os.urandom(3000))
            udp.send(request_bytes("REGISTER", branch="z9hG4bK-uv1"))
            assert (await udp.response()).top_via.rport == str(udp.port)  # type: ignore[union-attr]
            udp.send(request_bytes("REGISTER", branch="z9hG4bK-uv1"))
            assert (await udp.response()).status == 200
            first = request_bytes("INFO", branch="z9hG4bK-uv2")
            second = request_bytes("OPTIONS", branch="z9hG4bK-uv3")
            await tcp.send(first + second[:10])
            await tcp.send(second[10:])
            assert {(await tcp.response()).status for _ in range(2)} == {200}
            assert len(handler.requests) == 3
        finally:
            await tcp.close()
            transport.close()
            await stack.stop()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(asyncio.wait_for(scenario(), 10))


async def test_2xx_to_invite_is_retransmitted_until_its_ack(
    stack: SipStack, udp: UdpClient, handler: RecordingHandler
) -> None:
    udp.send(
        request_bytes(
            "INVITE",
            uri="sip:answer@127.0.0.1",
            branch="z9hG4bK-ok",
            extra="Contact: <sip:a@x>\r\n",
        )
    )
    assert (await udp.response()).status == 100
    first = await udp.response()
    again = await udp.response()  # T1 is 50 ms: the 2xx comes again until ACKed
    assert first.status == again.status == 200
    assert first.to_bytes() == again.to_bytes()
    (invite_transaction,) = handler.transactions
    assert invite_transaction.awaiting_ack
    ack = request_bytes("ACK", branch="z9hG4bK-ok-ack").replace(
        b"To: <sip:pbx@example.com>", f"To: {first.headers.get('To')}".encode()
    )
    udp.send(ack.replace(b"Call-ID: z9hG4bK-ok-ack@e2e", b"Call-ID: z9hG4bK-ok@e2e"))
    await asyncio.wait_for(handler.acked.wait(), WAIT)
    assert not invite_transaction.awaiting_ack
    assert handler.acks[0].call_id == "z9hG4bK-ok@e2e"


async def test_stateless_503_when_transaction_table_is_full(handler: RecordingHandler) -> None:
    stack = SipStack(handler, max_server_transactions=1)
    await stack.start(HOST, 0)
    loop = asyncio.get_running_loop()
    transport, udp = await loop.create_datagram_endpoint(UdpClient, remote_addr=(HOST, stack.port))
    try:
        udp.send(request_bytes("REGISTER", branch="z9hG4bK-full-1"))
        assert (await udp.response()).status == 200
        udp.send(request_bytes("REGISTER", branch="z9hG4bK-full-2"))
        busy = await udp.response()
        assert busy.status == 503
        assert busy.headers.get("Retry-After") == "5"
        assert len(handler.requests) == 1
    finally:
        transport.close()
        await stack.stop()


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


async def test_tcp_connections_per_host_are_capped(handler: RecordingHandler) -> None:
    stack = SipStack(handler, limits=TransportLimits(max_connections_per_host=2))
    await stack.start(HOST, 0)
    clients = [await TcpClient.connect(stack.port) for _ in range(3)]
    try:
        assert await clients[2].closed_by_server()
        await clients[0].send(request_bytes("OPTIONS", branch="z9hG4bK-cap"))
        assert (await clients[0].response()).status == 200
    finally:
        for client in clients:
            await client.close()
        await stack.stop()


async def test_invite_cancelled_between_two_stacks(stack: SipStack) -> None:
    cancelled = asyncio.Event()

    class Ringing:
        async def on_request(self, transaction: ServerTransactionHandle) -> None:
            if transaction.request.method == "INVITE":
                transaction.add_cancel_listener(cancelled.set)
                transaction.respond(180)

    peer = SipStack(Ringing(), timers=TimerConfig(t1=0.05))
    await peer.start(HOST, 0)
    try:
        invite = SipRequest(
            "INVITE",
            f"sip:callee@{HOST}:{peer.port}",
            parse_headers(
                "From: <sip:caller@example.com>;tag=c1",
                "To: <sip:callee@example.com>",
                "Call-ID: cancel-e2e",
                "CSeq: 1 INVITE",
                "Contact: <sip:caller@127.0.0.1>",
            ),
        )
        ringing = asyncio.Event()
        handle = stack.start_client_transaction(
            invite, Source("udp", HOST, peer.port), on_provisional=lambda r: ringing.set()
        )
        await asyncio.wait_for(ringing.wait(), WAIT)
        assert handle.cancel()
        final = await asyncio.wait_for(handle.final_response(), WAIT)
        assert final.status == 487
        assert cancelled.is_set()
    finally:
        await peer.stop()


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


async def test_request_the_handler_never_answers_is_closed_after_64_t1() -> None:
    class Forgetful:
        async def on_request(self, transaction: ServerTransactionHandle) -> None:
            return None

    stack = SipStack(Forgetful(), timers=TimerConfig(t1=0.005, t2=0.02, t4=0.02))
    await stack.start(HOST, 0)
    loop = asyncio.get_running_loop()
    transport, udp = await loop.create_datagram_endpoint(UdpClient, remote_addr=(HOST, stack.port))
    try:
        udp.send(request_bytes("SUBSCRIBE", branch="z9hG4bK-forgot"))
        assert (await udp.response()).status == 500  # after 64*T1 = 0.32 s
    finally:
        transport.close()
        await stack.stop()


async def test_wildcard_listener_puts_the_routed_local_address_in_via() -> None:
    stack = SipStack(RecordingHandler())
    await stack.start("0.0.0.0", 0)
    try:
        via = stack.via_for(Source("udp", HOST, 5060))
        assert via.startswith(f"SIP/2.0/UDP {HOST}:{stack.port};branch=z9hG4bK")
    finally:
        await stack.stop()


async def test_udp_receive_buffer_is_set_on_the_socket_at_start() -> None:
    plain = SipStack(RecordingHandler())
    sized = SipStack(RecordingHandler(), udp_receive_buffer=48 * 1024)
    await plain.start(HOST, 0)
    await sized.start(HOST, 0)
    try:
        assert plain.udp is not None and sized.udp is not None
        default, chosen = plain.udp.receive_buffer, sized.udp.receive_buffer
        assert default is not None and chosen is not None
        assert chosen >= 48 * 1024 and chosen != default  # Linux reports twice the request
    finally:
        await plain.stop()
        await sized.stop()


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
