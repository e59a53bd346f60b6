"""Ringback as early media: a callee that rings without SDP makes the PBX send the
caller a 180 with SDP and the ringback tone (440 + 480 Hz) until the call is settled."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.e2e.calls.peers import answer, call
from tests.e2e.calls.rtp_phone import RtpPhone
from tests.harness import PbxProcess
from tests.media_audio import goertzel

pytestmark = pytest.mark.peers


def test_the_caller_hears_ringback_while_the_callee_rings(
    call_pbx: PbxProcess, callee_port: int, workdir: Path
) -> None:
    caller = RtpPhone("PCMA", 8)
    callee = answer(call_pbx, callee_port, workdir, scenario="uas_ring.xml")
    try:
        uac = call(
            call_pbx, "2001", "2002", workdir, scenario="uac_cancel.xml", pts="8",
            rtp=caller.port, talk_ms=1500,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while len(caller.received) < 60 and time.monotonic() < deadline:
            caller.drain()
            time.sleep(0.02)
        uac.finish()
        callee.finish()
    finally:
        callee.kill()
        caller.close()
    assert len(caller.received) >= 60, len(caller.received)  # over a second of early media
    pcm = caller.decoded()[: 2 * 8000]  # the first second: the tone's "on" part
    control = goertzel(pcm, 8000, 1000)
    assert goertzel(pcm, 8000, 440) > 50 * control
    assert goertzel(pcm, 8000, 480) > 50 * control
