"""SIP call signalling benchmark: calls set up and torn down per second by the dialog
layer, driven by sipp's built-in UAC.

In this process a SipStack runs on uvloop with a test INVITE owner that answers every
INVITE through ServerInvite (180, then 200 with SDP) and lets the dialog layer answer
the BYE. sipp plays INVITE, 100, 180, 200, ACK, BYE, 200 (seven messages a call) over
UDP on loopback at increasing rates, each step for a bounded time. Prints successful
and failed calls, sipp's INVITE retransmissions, and the dialogs left over (whose ACK
or BYE never reached us). The per-address transaction share is off: sipp is one
address (each call holds two server transactions for 32 s).

    .venv/bin/python bench/bench_calls.py     # BENCH_CALLS_SECONDS=8 per step
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.e2e.sip.dialog_helpers import Callee
from tests.harness import free_port

from kilopbx.sip.stack import SipStack

SECONDS = float(os.environ.get("BENCH_CALLS_SECONDS", "8"))
RATES = [int(r) for r in os.environ.get("BENCH_CALLS_RATES", "200,400,700,1000").split(",")]
HOST = "127.0.0.1"
UDP_RECEIVE_BUFFER = 4 * 1024 * 1024  # what the PBX's SIP service sets


def _cumulative(output: str, name: str) -> int:
    matches = re.findall(rf"{name}\s*\|\s*\d+\s*\|\s*(\d+)", output)
    return int(matches[-1]) if matches else 0


async def step(rate: int) -> dict[str, float]:
    handler = Callee()
    stack = SipStack(
        handler,
        max_server_transactions_per_source=100_000,  # the whole table: sipp is one address
        udp_receive_buffer=UDP_RECEIVE_BUFFER,
    )
    handler.stack = stack
    await stack.start(HOST, 0)
    calls = int(rate * SECONDS)
    try:
        with tempfile.TemporaryDirectory() as workdir:
            started = time.monotonic()
            process = await asyncio.create_subprocess_exec(
                "sipp", f"{HOST}:{stack.port}", "-sn", "uac", "-s", "callee", "-t", "u1",
                "-i", HOST, "-p", str(free_port(udp_too=True)), "-m", str(calls),
                "-r", str(rate), "-l", "5000", "-d", "0", "-timeout", f"{int(SECONDS) + 60}s",
                "-nostdin",
                cwd=workdir, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
            output_bytes, _ = await process.communicate()
            elapsed = time.monotonic() - started
    finally:
        await stack.stop()
    output = output_bytes.decode(errors="replace")
    retransmissions = re.findall(r"INVITE ---------->\s+\d+\s+(\d+)", output)
    successful = _cumulative(output, "Successful call")
    return {
        "rate": rate,
        "successful": successful,
        "failed": _cumulative(output, "Failed call"),
        "per_second": successful / elapsed if elapsed else 0.0,
        "invite_retransmissions": int(retransmissions[-1]) if retransmissions else 0,
        "dialogs_left": len(stack.dialogs),
    }


async def main() -> None:
    print(f"sipp uac -> SipStack (uvloop, UDP loopback), {SECONDS:.0f} s per step")
    print("offered/s  completed/s  successful  failed  INVITE retrans  dialogs left")
    for rate in RATES:
        figures = await step(rate)
        print(
            f"{figures['rate']:>9}  {figures['per_second']:>11.0f}  {figures['successful']:>10}"
            f"  {figures['failed']:>6}  {figures['invite_retransmissions']:>14}"
            f"  {figures['dialogs_left']:>12}",
            flush=True,
        )


if __name__ == "__main__":
    uvloop.run(main())
