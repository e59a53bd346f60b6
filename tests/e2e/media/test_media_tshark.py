"""An independent RTP analyser (tshark) judges the stream a phone gets across a re-INVITE."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from kilopbx.media.pool import MediaPool

from .conftest import Phone

pytestmark = pytest.mark.peers

ULAW = [(0, "PCMU")]


async def _capture(port: int, pcap: Path) -> asyncio.subprocess.Process:
    """tshark on loopback, our one port only, writing the file and a line per packet."""
    return await asyncio.create_subprocess_exec(
        "tshark", "-i", "lo", "-f", f"udp dst port {port}", "-w", str(pcap), "-P", "-l",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
async def test_tshark_sees_one_clean_stream_across_a_source_change(
    pool: MediaPool, make_phone: Callable[[], Awaitable[Phone]], tmp_path: Path
) -> None:
    a, b = await make_phone(), await make_phone()
    ea = await pool.create_endpoint(ULAW, a.address)
    eb = await pool.create_endpoint(ULAW, b.address, near=ea)
    await pool.bridge(ea, eb)
    pcap = tmp_path / "b.pcap"
    capture = await _capture(b.address[1], pcap)
    assert capture.stdout is not None
    try:
        sent = 0

        def send(ssrc: int, seq: int) -> None:
            nonlocal sent
            a.send_rtp(ea.port, 0, seq, seq * 160, ssrc, b"\xff" * 160)
            sent += 1

        # the stream starts before tshark really captures: wait for its first packet line
        seen = False
        seq = 100
        for seq in range(100, 400):  # bounded: about 6 s
            send(0x1111, seq)
            try:
                await asyncio.wait_for(capture.stdout.readline(), 0.02)
                seen = True
                break
            except TimeoutError:
                continue
        assert seen, "tshark never started capturing"
        started = time.monotonic()
        for i in range(60):
            # halfway the far end changes: new SSRC, sequence and timestamp bases
            send(*((0x1111, seq + 1 + i) if i < 30 else (0x2222, 50000 + i)))
            await asyncio.sleep(max(0.0, started + (i + 1) * 0.02 - time.monotonic()))
        await b.receive_rtp(sent)
        # tshark prints a line per packet after writing it: quiet for 1 s means all are in
        for _ in range(sent):
            try:
                await asyncio.wait_for(capture.stdout.readline(), 1.0)
            except TimeoutError:
                break
    finally:
        capture.terminate()
        await asyncio.wait_for(capture.wait(), 10)
    analysis = await asyncio.create_subprocess_exec(
        "tshark", "-r", str(pcap), "-d", f"udp.port=={b.address[1]},rtp", "-q", "-z", "rtp,streams",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(analysis.communicate(), 30)
    streams = [line for line in out.decode().splitlines() if "g711U" in line]
    assert len(streams) == 1, out.decode()  # one SSRC for the phone, whatever the far end did
    fields = streams[0].split()
    assert int(fields[fields.index("g711U") + 1]) >= 60  # packets
    assert "0 (0.0%)" in streams[0]  # lost
    assert not streams[0].rstrip().endswith("X"), streams[0]  # tshark's "Problems?" column
