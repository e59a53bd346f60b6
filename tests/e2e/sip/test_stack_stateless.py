"""Stateless answers (RFC 3261 §8.2.7) and per-source UDP limits on a real SipStack."""

from __future__ import annotations

import asyncio

from kilopbx.clock import FakeClock
from kilopbx.sip.message import SipRequest
from kilopbx.sip.source_limits import UdpSourceLimiter
from kilopbx.sip.stack import SipStack, StatelessAnswer
from kilopbx.sip.transport import Source
from tests.e2e.sip.helpers import HOST, RecordingHandler, UdpClient, request_bytes


class StatelessHandler(RecordingHandler):
    """Answers OPTIONS without a transaction; everything else as RecordingHandler."""

    def answer_statelessly(self, request: SipRequest, source: Source) -> StatelessAnswer | None:
        if request.method == "OPTIONS":
            return 200, None, [("Allow", "OPTIONS, INFO")]
        return None


async def started(handler: RecordingHandler) -> SipStack:
    stack = SipStack(handler)
    await stack.start(HOST, 0)
    return stack


async def client(stack: SipStack) -> tuple[asyncio.DatagramTransport, UdpClient]:
    loop = asyncio.get_running_loop()
    return await loop.create_datagram_endpoint(UdpClient, remote_addr=(HOST, stack.port))


async def test_stateless_answers_keep_nothing_and_answer_retransmissions() -> None:
    handler = StatelessHandler()
    stack = await started(handler)
    transport, udp = await client(stack)
    try:
        for branch in ("z9hG4bK-s1", "z9hG4bK-s2", "z9hG4bK-s2"):  # the last: a retransmission
            udp.send(request_bytes("OPTIONS", branch=branch))
            response = await udp.response()
            assert response.status == 200 and response.to.tag
            assert response.headers.get("Server") == "KiloPBX"
            assert response.headers.get_all("Allow") == ["OPTIONS", "INFO"]
        assert stack.table.server_count == 0 and handler.requests == []
        udp.send(request_bytes("INFO", branch="z9hG4bK-s3"))  # still the handler's
        assert (await udp.response()).status == 200
        assert stack.table.server_count == 1 and len(handler.requests) == 1
    finally:
        transport.close()
        await stack.stop()


async def test_source_over_its_cost_share_is_dropped_others_answered() -> None:
    handler = StatelessHandler()
    stack = await started(handler)
    clock = FakeClock()
    # no payback while the clock stands still: the burst is all a source may spend
    stack.udp_limiter = UdpSourceLimiter(clock.monotonic, cpu_share=0.5, burst=0.002)
    transport, udp = await client(stack)
    try:
        answered = 0
        for n in range(200):
            udp.send(request_bytes("OPTIONS", branch=f"z9hG4bK-c{n}"))
            try:
                await asyncio.wait_for(udp.response(), 0.2)
            except TimeoutError:
                break
            answered += 1
        assert 0 < answered < 200  # each costs some loop time; 2 ms of it is the limit
        assert stack.udp_limiter.dropped_for_cost == 1
        clock.advance(1.0)  # paid back
        udp.send(request_bytes("OPTIONS", branch="z9hG4bK-back"))
        assert (await udp.response()).status == 200
    finally:
        transport.close()
        await stack.stop()
