"""call/playprompt and the prompt store through `kilopbx serve`: an uploaded prompt (any
WAV, converted) is played to a sipp phone, which is hung up after it, and the
application gets PlayPromptEnd; every bad request gets its errno."""

from __future__ import annotations

import base64
import io
import time
import wave
from pathlib import Path

import pytest

from tests.e2e.calls.peers import answer
from tests.e2e.calls.rtp_phone import RtpPhone
from tests.harness import EventReceiver, PbxProcess
from tests.media_audio import goertzel, tone

pytestmark = pytest.mark.peers


def _stereo_wav(frequency: float, rate: int, milliseconds: int) -> bytes:
    mono = tone(frequency, rate, milliseconds)
    frames = b"".join(mono[i : i + 2] * 2 for i in range(0, len(mono), 2))
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(2), wav.setsampwidth(2), wav.setframerate(rate)
        wav.writeframes(frames)
    return out.getvalue()


def wait_for_system_prompts(pbx: PbxProcess, token: str, timeout: float = 60.0) -> None:
    """A fresh data directory gets its system prompts in the background at start."""
    deadline = time.monotonic() + timeout
    while "goodbye" not in pbx.api("prompt/query", {}, token=token)["system"]:
        assert time.monotonic() < deadline, "the system prompts were never generated"
        time.sleep(0.2)


def test_playprompt_plays_an_uploaded_prompt_then_hangs_up(
    call_pbx: PbxProcess, callee_port: int, workdir: Path, receiver: EventReceiver
) -> None:
    token = call_pbx.login(port=receiver.port)
    wait_for_system_prompts(call_pbx, token)
    data = base64.b64encode(_stereo_wav(1000, 44100, 800)).decode()
    uploaded = call_pbx.api("prompt/upload", {"name": "alert_tone", "data": data}, token=token)
    assert uploaded == {"status": "Success", "name": "alert_tone", "seconds": "1"}
    listed = call_pbx.api("prompt/query", {}, token=token)
    assert {"name": "alert_tone", "seconds": "1"} in listed["custom"]
    phone = RtpPhone("PCMU", 0)
    uas = answer(call_pbx, callee_port, workdir, rtp=phone.port)
    try:
        body = {"number": "2002", "prompt": "alert_tone+goodbye", "count": "1"}
        started = call_pbx.api("call/playprompt", body, token=token)
        assert started["status"] == "Success", started
        events = receiver.wait_for(
            lambda evs: any(e.get("event") == "PlayPromptEnd" for e in evs), timeout=30
        )
        uas.finish()  # the PBX hung up after the prompt
    finally:
        uas.kill()
        phone.drain()
        phone.close()
    (end,) = [e for e in events if e.get("event") == "PlayPromptEnd"]
    assert end["callid"] == started["callid"] and end["prompt"] == "alert_tone+goodbye"
    (member,) = end["members"]
    assert member["ext"]["number"] == "2002" and member["ext"]["channelid"].startswith(
        "PJSIP/2002-"
    )
    assert len(phone.received) >= 40  # 0.8 s of tone and the spoken goodbye
    pcm = phone.decoded()[: 2 * 8000 * 7 // 10]
    assert goertzel(pcm, 8000, 1000) > 50 * goertzel(pcm, 8000, 700)
    assert call_pbx.api("prompt/delete", {"name": "alert_tone"}, token=token)["status"] == "Success"


def test_prompt_and_playprompt_refusals(call_pbx: PbxProcess) -> None:
    token = call_pbx.login()
    wait_for_system_prompts(call_pbx, token)
    wav = base64.b64encode(_stereo_wav(500, 8000, 100)).decode()
    float_wav = bytearray(base64.b64decode(wav))
    float_wav[20:22] = (3).to_bytes(2, "little")
    cases = [
        ("prompt/upload", {"name": "../evil", "data": wav}, "10930"),
        ("prompt/upload", {"name": "1234", "data": wav}, "10930"),  # no letter
        ("prompt/upload", {"name": "x" * 65, "data": wav}, "10930"),
        ("prompt/upload", {"name": "ok", "data": "not base64!"}, "10931"),
        ("prompt/upload", {"name": "ok", "data": base64.b64encode(b"MThd....").decode()}, "10931"),
        ("prompt/upload", {"name": "ok", "data": base64.b64encode(float_wav).decode()}, "10931"),
        ("prompt/upload", {"name": "ok"}, "10004"),
        ("prompt/delete", {"name": "never_uploaded"}, "10023"),
        ("call/playprompt", {"number": "2002", "prompt": "no_such_prompt"}, "10023"),
        ("call/playprompt", {"number": "2002", "prompt": "goodbye+"}, "10023"),
        ("call/playprompt", {"number": "", "prompt": "goodbye"}, "10028"),
        ("call/playprompt", {"number": "2002"}, "10004"),
        ("call/playprompt", {"number": "2002", "prompt": "goodbye", "count": "0"}, "10004"),
        ("call/playprompt", {"number": "2002", "prompt": "goodbye", "volume": "21"}, "10004"),
        ("call/playprompt", {"number": "2002", "prompt": "goodbye", "autoanswer": "x"}, "10004"),
        ("call/playprompt", {"number": "9999", "prompt": "goodbye"}, "10011"),
        ("call/playprompt", {"number": "2003", "prompt": "goodbye"}, "10008"),  # not registered
    ]
    for endpoint, body, errno in cases:
        answer = call_pbx.api(endpoint, body, token=token)
        assert answer == {"status": "Failed", "errno": errno}, (endpoint, body, answer)
