"""Hostile Via parameters over UDP: a forged ``received`` or ``maddr`` must not aim
our responses at a third party, and a bad ``rport`` or a host name must never close
the listener (on the stdlib loop and on uvloop); one source cannot fill the
transaction table."""

from __future__ import annotations

import asyncio
import contextlib

import uvloop

from kilopbx.sip.stack import SipStack
from kilopbx.sip.timers import TimerConfig
from tests.e2e.sip.helpers import HOST, RecordingHandler, UdpClient, request_bytes, until

VICTIM = "127.0.0.5"


async def _pair_on_one_port() -> tuple[
    asyncio.DatagramTransport, UdpClient, asyncio.DatagramTransport, UdpClient
]:
    """A client on HOST and a 'victim' on VICTIM, both bound to the same port."""
    loop = asyncio.get_running_loop()
    for _ in range(20):
        victim_transport, victim = await loop.create_datagram_endpoint(
            UdpClient, local_addr=(VICTIM, 0)
        )
        try:
            transport, client = await loop.create_datagram_endpoint(
                UdpClient, local_addr=(HOST, victim.port)
            )
        except OSError:
            victim_transport.close()
            continue
        return transport, client, victim_transport, victim
    raise RuntimeError("no free port pair")


async def test_forged_received_or_maddr_cannot_redirect_responses(stack: SipStack) -> None:
    transport, client, victim_transport, victim = await _pair_on_one_port()
    port = client.port
    try:
        forged = [
            ("OPTIONS", f";received={VICTIM}"),
            ("INVITE", f";received={VICTIM}"),
            ("OPTIONS", f";maddr={VICTIM}"),
            ("INVITE", f";maddr={VICTIM};received={VICTIM}"),
        ]
        for number, (method, params) in enumerate(forged):
            data = request_bytes(
                method,
                branch=f"z9hG4bK-forged-{number}",
                sent_by=f"{HOST}:{port}",
                rport=False,
                extra="Contact: <sip:a@127.0.0.1>\r\n" if method == "INVITE" else "",
            ).replace(b";branch=", params.encode() + b";branch=", 1)
            transport.sendto(data, (HOST, stack.port))
            first = await client.response()
            assert first.status == (100 if method == "INVITE" else 200)
            via = first.top_via
            assert via is not None
            assert via.received is None or via.received == HOST
            if method == "INVITE":
                assert (await client.response()).status == 180
        await asyncio.sleep(0.3)  # several T1: any retransmission would have arrived
        assert victim.received.empty()
    finally:
        transport.close()
        victim_transport.close()


async def _bad_via_scenario() -> None:
    stack = SipStack(RecordingHandler(), timers=TimerConfig(t1=0.05))
    await stack.start(HOST, 0)
    loop = asyncio.get_running_loop()
    transport, udp = await loop.create_datagram_endpoint(UdpClient, remote_addr=(HOST, stack.port))
    try:
        hostile = [
            ";rport=99999",
            ";rport=0",
            ";rport=" + "9" * 30,
            ";received=localhost;rport=99999",
            ";received=no-such-host.invalid",
            ";maddr=no-such-host.invalid",
        ]
        for number, params in enumerate(hostile):
            data = request_bytes(
                "OPTIONS", branch=f"z9hG4bK-bad-{number}", sent_by=f"{HOST}:{udp.port}", rport=False
            ).replace(b";branch=", params.encode() + b";branch=", 1)
            udp.send(data)
            # Every one is answered at the source address instead.
            assert (await udp.response()).status == 200
        assert stack.udp is not None
        assert stack.udp.send(b"x" * 20, HOST, 99999) is False
        assert stack.udp.send(b"x" * 20, HOST, -1) is False
        udp.send(request_bytes("OPTIONS", branch="z9hG4bK-bad-after"))
        assert (await udp.response()).status == 200
    finally:
        transport.close()
        with contextlib.suppress(Exception):
            await stack.stop()


async def test_bad_rport_or_host_names_never_close_the_listener() -> None:
    await asyncio.wait_for(_bad_via_scenario(), 10)


def test_bad_rport_or_host_names_never_close_the_listener_on_uvloop() -> None:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(asyncio.wait_for(_bad_via_scenario(), 10))


async def test_one_source_cannot_fill_the_transaction_table(handler: RecordingHandler) -> None:
    stack = SipStack(handler, timers=TimerConfig(t1=0.01), max_server_transactions_per_source=2)
    await stack.start(HOST, 0)
    loop = asyncio.get_running_loop()
    transport, udp = await loop.create_datagram_endpoint(UdpClient, remote_addr=(HOST, stack.port))
    other_transport, other = await loop.create_datagram_endpoint(
        UdpClient, local_addr=("127.0.0.2", 0), remote_addr=(HOST, stack.port)
    )
    try:
        for number in range(2):
            udp.send(request_bytes("REGISTER", branch=f"z9hG4bK-cap-{number}"))
            assert (await udp.response()).status == 200
        udp.send(request_bytes("REGISTER", branch="z9hG4bK-cap-2"))
        busy = await udp.response()
        assert busy.status == 503
        assert busy.headers.get("Retry-After") is not None
        assert len(handler.requests) == 2
        # another source is not affected
        other.send(request_bytes("REGISTER", branch="z9hG4bK-cap-other"))
        assert (await other.response()).status == 200
        # once its transactions end (Timer J, 64*T1), the first source may send again
        await until(lambda: stack._table.server_count_from(HOST) == 0)
        udp.send(request_bytes("REGISTER", branch="z9hG4bK-cap-3"))
        assert (await udp.response()).status == 200
    finally:
        transport.close()
        other_transport.close()
        await stack.stop()
