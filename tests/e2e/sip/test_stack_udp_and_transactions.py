"""A real SipStack exercised with real datagrams: UDP exchanges, retransmissions,
transactions between two stacks, limits; on uvloop as in production."""

from __future__ import annotations

import asyncio
import os

import uvloop

from kilopbx.sip.message import SipRequest
from kilopbx.sip.stack import SipStack
from kilopbx.sip.timers import TimerConfig
from kilopbx.sip.transaction_user import ServerTransactionHandle
from kilopbx.sip.transport import Source
from tests.e2e.sip.helpers import (
    HOST,
    WAIT,
    RecordingHandler,
    TcpClient,
    UdpClient,
    parse_headers,
    request_bytes,
)


async def test_options_over_udp_answered_with_capabilities_and_rport(
    stack: SipStack, udp: UdpClient, handler: RecordingHandler
) -> None:
    udp.send(request_bytes("OPTIONS"))
    response = await udp.response()
    assert response.status == 200
    # Only what is implemented: the handler says nothing, so the stack's own methods.
    assert response.headers.get_all("Allow") == ["ACK", "CANCEL", "OPTIONS"]
    assert response.headers.get("Accept") == "application/sdp"
    assert response.headers.get("Supported") is None
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


async def test_handlers_that_answer_at_once_wait_or_fail() -> None:
    """A plain handler answers inside the datagram's callback (no task); one that
    returns an awaitable is awaited; a failure of either is answered 500."""
    waited = asyncio.Event()

    async def later(transaction: ServerTransactionHandle) -> None:
        await asyncio.sleep(0)
        if transaction.request.method == "SUBSCRIBE":
            raise RuntimeError("handler bug")
        transaction.respond(202)
        waited.set()

    class Mixed:
        def on_request(self, transaction: ServerTransactionHandle) -> object:
            method = transaction.request.method
            if method == "MESSAGE":
                transaction.respond(200)
                assert not stack._tasks  # answered without a task
                return None
            if method == "NOTIFY":
                raise RuntimeError("handler bug")
            return later(transaction)

    stack = SipStack(Mixed())  # type: ignore[arg-type]
    await stack.start(HOST, 0)
    loop = asyncio.get_running_loop()
    transport, udp = await loop.create_datagram_endpoint(UdpClient, remote_addr=(HOST, stack.port))
    try:
        expected = {"MESSAGE": 200, "NOTIFY": 500, "PUBLISH": 202, "SUBSCRIBE": 500}
        for n, (method, status) in enumerate(expected.items()):
            udp.send(request_bytes(method, branch=f"z9hG4bK-mixed-{n}"))
            assert (await udp.response()).status == status, method
        assert waited.is_set()
    finally:
        transport.close()
        await stack.stop()


async def test_a_late_answer_lets_go_of_the_request_at_once() -> None:
    """A handler that answers after returning (a REGISTER waiting for its commit) gets a
    64*T1 guard; the final response cancels it, so the guard no longer holds the
    request for 32 s after the transaction became a remnant."""
    held: list[ServerTransactionHandle] = []

    class Later:
        def on_request(self, transaction: ServerTransactionHandle) -> None:
            held.append(transaction)

    stack = SipStack(Later())  # type: ignore[arg-type]
    await stack.start(HOST, 0)
    loop = asyncio.get_running_loop()
    transport, udp = await loop.create_datagram_endpoint(UdpClient, remote_addr=(HOST, stack.port))
    try:
        udp.send(request_bytes("MESSAGE", branch="z9hG4bK-late-1"))
        async with asyncio.timeout(WAIT):
            while not held:
                await asyncio.sleep(0.01)
        handle = held[0]
        guard = handle.answer_guard
        assert guard is not None
        handle.respond(200)
        assert (await udp.response()).status == 200
        assert handle.answer_guard is None
        assert getattr(guard, "handle", "gone") is None  # the bucket entry let go of it
    finally:
        transport.close()
        await stack.stop()
