"""sipp's built-in UAC (INVITE, ACK, BYE) calls a real SipStack whose INVITE owner
answers through ServerInvite: a peer nobody on this project wrote, over UDP and TCP."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from kilopbx.sip.stack import SipStack
from tests.e2e.sip.dialog_helpers import Callee, start_stack
from tests.e2e.sip.helpers import HOST
from tests.harness import free_port

SIPP = shutil.which("sipp")
CALLS = 5
pytestmark = pytest.mark.skipif(SIPP is None, reason="sipp is not installed")


async def run_uac(stack: SipStack, transport: str, workdir: Path) -> tuple[int, str]:
    assert SIPP is not None
    process = await asyncio.create_subprocess_exec(
        SIPP, f"{HOST}:{stack.port}", "-sn", "uac", "-s", "callee",
        "-t", transport, "-i", HOST, "-p", str(free_port(udp_too=True)),
        "-m", str(CALLS), "-r", "10", "-d", "100",
        "-timeout", "20s", "-timeout_error", "-recv_timeout", "5s",
        "-nostdin", "-trace_err",
        cwd=workdir, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        output, _ = await asyncio.wait_for(process.communicate(), 30)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    return process.returncode or 0, output.decode(errors="replace")[-3000:]


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
