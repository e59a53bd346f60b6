"""sipp, a peer nobody on this project wrote, over UDP and TCP: its built-in UAC
(INVITE, ACK, BYE) calls a SipStack whose INVITE owner answers through ServerInvite,
and ClientInvite calls its built-in UAS (180, 200, then our ACK and BYE)."""

from __future__ import annotations

import asyncio
import shutil
import socket
from pathlib import Path

import pytest

from kilopbx.sip.invite_client import ClientInvite, InviteAnswered, build_invite
from kilopbx.sip.stack import SipStack
from kilopbx.sip.transport import Destination
from tests.e2e.sip.dialog_helpers import Callee, RecordingOwner, start_stack
from tests.e2e.sip.helpers import HOST, WAIT, RecordingHandler
from tests.harness import free_port

SIPP = shutil.which("sipp")
CALLS = 5
pytestmark = pytest.mark.skipif(SIPP is None, reason="sipp is not installed")


async def start_sipp(*args: str, workdir: Path) -> asyncio.subprocess.Process:
    assert SIPP is not None
    return await asyncio.create_subprocess_exec(
        SIPP, *args, "-i", HOST, "-m", str(CALLS),
        "-timeout", "20s", "-timeout_error", "-nostdin", "-trace_err",
        cwd=workdir, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip


async def finish(process: asyncio.subprocess.Process) -> tuple[int, str]:
    try:
        output, _ = await asyncio.wait_for(process.communicate(), 30)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    return process.returncode or 0, output.decode(errors="replace")[-3000:]


async def run_uac(stack: SipStack, transport: str, workdir: Path) -> tuple[int, str]:
    process = await start_sipp(
        f"{HOST}:{stack.port}", "-sn", "uac", "-s", "callee", "-t", transport,
        "-p", str(free_port(udp_too=True)), "-r", "10", "-d", "100", "-recv_timeout", "5s",
        workdir=workdir,
    )  # fmt: skip
    return await finish(process)


async def until_listening(port: int, kind: socket.SocketKind) -> None:
    """Until sipp has bound ``port`` (binding it ourselves fails), bounded by WAIT."""

    async def poll() -> None:
        while True:
            with socket.socket(socket.AF_INET, kind) as probe:
                try:
                    probe.bind((HOST, port))
                except OSError:
                    return
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), WAIT)


@pytest.mark.parametrize("transport", ["u1", "t1"])
async def test_sipp_uac_calls_are_answered_acked_and_hung_up(
    transport: str, tmp_path: Path
) -> None:
    handler = Callee()
    stack = await start_stack(handler)
    try:
        returncode, output = await run_uac(stack, transport, tmp_path)
        assert returncode == 0, output
        assert len(handler.legs) == CALLS
        for leg in handler.legs:
            assert await asyncio.wait_for(leg.acknowledged(), 5) is not None
        assert handler.owner.methods() == ["BYE"] * CALLS
        assert len(stack.dialogs) == 0
    finally:
        await stack.stop()


async def call_and_hang_up(stack: SipStack, peer: Destination) -> None:
    for _ in range(CALLS):
        request = build_invite(
            f"sip:service@{HOST}:{peer.port}",
            from_address="<sip:pbx@example.com>",
            to_address="<sip:service@example.com>",
            contact=stack.contact_for(peer, "pbx"),
            body=b"v=0\r\n",
        )
        call = ClientInvite(stack, request, peer, RecordingOwner())
        call.start()
        final = await asyncio.wait_for(call.final(), WAIT)
        assert isinstance(final, InviteAnswered), final
        bye = await asyncio.wait_for(final.dialog.request("BYE"), WAIT)
        assert bye.status == 200


async def test_client_invite_calls_sipp_uas_over_udp_and_tcp(tmp_path: Path) -> None:
    # Both at once: sipp's UAS lingers 4 s after its last call.
    peers = [
        Destination("udp", HOST, free_port(udp_too=True)),
        Destination("tcp", HOST, free_port(udp_too=True)),
    ]
    processes = []
    for peer in peers:
        workdir = tmp_path / peer.transport
        workdir.mkdir()
        sipp_transport = "u1" if peer.transport == "udp" else "t1"
        processes.append(
            await start_sipp(
                "-sn", "uas", "-t", sipp_transport, "-p", str(peer.port), workdir=workdir
            )
        )
    stack = await start_stack(RecordingHandler())
    try:
        for peer in peers:
            kind = socket.SOCK_DGRAM if peer.transport == "udp" else socket.SOCK_STREAM
            await until_listening(peer.port, kind)
        await asyncio.gather(*(call_and_hang_up(stack, peer) for peer in peers))
        for process in processes:
            returncode, output = await finish(process)
            assert returncode == 0, output
        assert len(stack.dialogs) == 0
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()
        await stack.stop()
