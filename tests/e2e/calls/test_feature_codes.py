"""Feature codes dialled from a sipp phone change its extension's settings, which
``extension/query`` shows at once; each is acknowledged with a short answer that
beeps twice. Codes
the PBX cannot apply are refused and change nothing."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.e2e.calls.peers import call, pbx_media_port
from tests.e2e.calls.rtp_phone import RtpPhone
from tests.e2e.calls.sip_client import Caller
from tests.e2e.config_helpers import query_extension
from tests.harness import HOST, PbxProcess
from tests.media_audio import dominant_frequency

pytestmark = pytest.mark.peers

FORWARDS = {
    "always": ("*72", "*73", "a"),
    "busy": ("*90", "*91", "b"),
    "noanswer": ("*92", "*93", "n"),
}


def shown(pbx: PbxProcess, token: str) -> dict[str, str]:
    info = query_extension(pbx, token, "2001")
    keys = ["dnd"]
    for name, (_, _, prefix) in FORWARDS.items():
        keys += [f"{name}forward", f"{prefix}transferto", f"{prefix}transferext"]
    return {key: info[key] for key in keys}


def dial(pbx: PbxProcess, code: str, workdir: Path) -> None:
    call(pbx, "2001", code, workdir, talk_ms=200).finish()  # answered, then hung up


def test_codes_change_what_the_api_shows_and_back(call_pbx: PbxProcess, workdir: Path) -> None:
    token = call_pbx.login()
    for name, (on, off, prefix) in FORWARDS.items():
        dial(call_pbx, f"{on}2003", workdir)
        now = shown(call_pbx, token)
        assert now[f"{name}forward"] == "on", (name, now)
        assert (now[f"{prefix}transferto"], now[f"{prefix}transferext"]) == ("Extension", "2003")
        dial(call_pbx, off, workdir)
        assert shown(call_pbx, token)[f"{name}forward"] == "off"
        dial(call_pbx, on, workdir)  # on again, to the target set before
        now = shown(call_pbx, token)
        assert now[f"{name}forward"] == "on" and now[f"{prefix}transferext"] == "2003"
        dial(call_pbx, off, workdir)
    phone = RtpPhone("PCMU", 0)  # this one listens: two beeps say it is done
    try:
        call(call_pbx, "2001", "*78", workdir, talk_ms=900, rtp=phone.port).finish()
        phone.drain()
    finally:
        phone.close()
    phone.received = [frame for frame in phone.received if frame.strip(b"\xff\x7f")]
    assert len(phone.received) >= 10  # 300 ms of tone: 15 frames
    assert 780 < dominant_frequency(phone.decoded(), phone.rate) < 980  # short beeps: coarse
    assert shown(call_pbx, token)["dnd"] == "on"
    dial(call_pbx, "*79", workdir)
    assert shown(call_pbx, token)["dnd"] == "off"
    assert call_pbx.api("call/query", {"type": "internal"}, token=token)["calls"] == []


def test_codes_that_cannot_apply_are_refused(call_pbx: PbxProcess) -> None:
    token = call_pbx.login()
    before = shown(call_pbx, token)
    phone = Caller(call_pbx, "2001")
    try:
        assert phone.invite("*722999").status == 404  # no such extension to forward to
        assert phone.invite("*722001").status == 404  # not to itself
        for hostile in ("*72abc", "*78" + "9" * 40, "*7320", "*99"):
            assert phone.invite(hostile).status == 404, hostile
        assert phone.invite("*78", b"v=0\r\nnonsense").status == 488
    finally:
        phone.close()
    assert shown(call_pbx, token) == before
    intruder = Caller(call_pbx, "2001", password="wrong")
    try:
        assert intruder.invite("*78").status == 403
    finally:
        intruder.close()
    assert shown(call_pbx, token) == before


def test_speak_own_number(call_pbx: PbxProcess, workdir: Path) -> None:
    """*65: the PBX answers, says the number (or beeps when the voice prompts are not
    there yet) and hangs up itself."""
    phone = RtpPhone("PCMU", 0)
    try:
        started = time.monotonic()
        sipp = call(
            call_pbx, "2001", "*65", workdir, scenario="uac_media_wait_bye.xml", rtp=phone.port
        )
        deadline = time.monotonic() + 25
        while sipp.process.poll() is None and time.monotonic() < deadline:
            phone.drain()
            time.sleep(0.02)
        sipp.finish()  # our BYE came after the announcement
        phone.drain()
    finally:
        phone.close()
    sound = [frame for frame in phone.received if frame.strip(b"\xff\x7f")]
    assert len(sound) >= 10, len(phone.received)
    assert time.monotonic() - started < 25


def test_echo_test_sends_the_callers_audio_back(call_pbx: PbxProcess, workdir: Path) -> None:
    """*43: a 700 Hz tone sent for a second comes back as 700 Hz, from the PBX's media
    port; the phone's hang-up ends the test call."""
    phone = RtpPhone("PCMU", 0)
    try:
        uac = call(call_pbx, "2001", "*43", workdir, talk_ms=2500, rtp=phone.port)
        to_pbx = (HOST, pbx_media_port(workdir, "caller"))
        start = time.monotonic()
        for index, payload in enumerate(phone.frames(700, 1000)):
            phone.send(to_pbx, payload, index)
            phone.drain()
            pause = start + (index + 1) * 0.02 - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            phone.drain()
            time.sleep(0.02)
        uac.finish()
    finally:
        phone.close()
    assert phone.sources == {to_pbx}
    assert len(phone.received) >= 40  # most of the 50 frames came back
    assert 650 < dominant_frequency(phone.decoded(), phone.rate) < 750
