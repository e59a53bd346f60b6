"""A recorded call cut by `kill -9` of the PBX itself: after the restart the recording
is a valid WAV holding the audio sent, it downloads, and the call's CDR names it."""

from __future__ import annotations

import csv
import io
import time
import urllib.parse
import wave
from pathlib import Path

import pytest

from tests.e2e.calls.peers import answer, call, pbx_media_port, register
from tests.e2e.calls.rtp_phone import RtpPhone
from tests.e2e.calls.test_calls_sipp import answered, wait_for_calls
from tests.harness import HOST, PbxProcess, free_port
from tests.media_audio import goertzel

pytestmark = pytest.mark.peers


def _get(pbx: PbxProcess, endpoint: str, query: dict[str, str]) -> tuple[int, bytes]:
    status, _, body = pbx.http(
        f"/api/v2.0.0/{endpoint}?{urllib.parse.urlencode(query)}", method="GET"
    )
    return status, body


def test_kill_9_of_the_pbx_loses_no_recording(call_pbx: PbxProcess, workdir: Path) -> None:
    token = call_pbx.login()
    call_pbx.api("recording/update_settings", {"extensions": "2002"}, token=token)
    port = free_port(udp_too=True)
    register(call_pbx, "2002", port, workdir)
    caller = RtpPhone("PCMU", 0)
    callee = answer(call_pbx, port, workdir)
    uac = call(call_pbx, "2001", "2002", workdir, rtp=caller.port, talk_ms=30000)
    try:
        to_caller = (HOST, pbx_media_port(workdir, "caller"))
        wait_for_calls(call_pbx, token, answered)
        began = time.monotonic()
        for index, payload in enumerate(caller.frames(700, 1600)):
            caller.send(to_caller, payload, index)
            time.sleep(max(0.0, began + (index + 1) * 0.02 - time.monotonic()))
        call_pbx.kill9()
    finally:
        uac.kill()
        callee.kill()
        caller.close()
    (path,) = (call_pbx.data_dir / "recordings").glob("*.wav")
    call_pbx.start()
    with wave.open(str(path)) as wav:  # valid, and at most a second short
        pcm = wav.readframes(wav.getnframes())
    assert len(pcm) >= 2 * 8000 // 2
    assert goertzel(pcm, 8000, 700) > 20 * goertzel(pcm, 8000, 1100)
    token = call_pbx.login()
    granted = call_pbx.api("recording/get_random", {"recording": path.name}, token=token)
    status, body = _get(
        call_pbx,
        "recording/download",
        {"recording": path.name, "random": granted["random"], "token": token},
    )
    assert status == 200 and body.startswith(b"RIFF")
    today = time.strftime("%Y-%m-%d")
    window = {"number": "2001", "starttime": f"{today} 00:00:00", "endtime": f"{today} 23:59:59"}
    granted = call_pbx.api("cdr/get_random", window, token=token)
    assert granted["status"] == "Success", granted
    status, body = _get(
        call_pbx, "cdr/download", {**window, "random": granted["random"], "token": token}
    )
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert [row["recording"] for row in rows if row["callto"] == "2002"][-1] == path.name
    call_pbx.api("recording/update_settings", {"extensions": ""}, token=token)
