"""The voicemail menu from a phone without telephone-event, its keys sent as SIP INFO:
`*98` asks for the mailbox and its PIN, each message is introduced by its envelope
(the weekday and month it arrived are heard, as real RTP), option 3 records the
owner's greeting, and the next caller to reach the box hears that greeting. Failed
logins, including an oversized mailbox number, end the call after three tries.

The prompts that carry the checks are replaced by custom prompts of pure tones, so
that the test hears which one played whatever voice the system prompts have."""

from __future__ import annotations

import base64
import io
import json
import struct
import time
import wave
from collections.abc import Callable
from datetime import datetime

import pytest

from tests.e2e.calls.rtp_phone import RtpPhone
from tests.e2e.ivr.conftest import tone_wav
from tests.e2e.ivr.test_ivr_audio import DialogCaller, media_port, pace
from tests.e2e.ivr.test_voicemail_deposit import answer_bye
from tests.harness import HOST, PbxProcess
from tests.media_audio import goertzel

pytestmark = pytest.mark.peers

RECEIVED_HZ, WEEKDAY_HZ, MONTH_HZ, MESSAGE_HZ = 1450.0, 1950.0, 2450.0, 2950.0
BEEP_HZ, GREETING_HZ = 1000.0, 700.0
TONES = (RECEIVED_HZ, WEEKDAY_HZ, MONTH_HZ, MESSAGE_HZ, BEEP_HZ, GREETING_HZ)
RECEIVED_AT = 1_780_000_000.0  # the planted message's arrival


def upload(pbx: PbxProcess, token: str, name: str, frequency: float, ms: int = 400) -> None:
    body = {"name": name, "data": base64.b64encode(tone_wav(ms, frequency)).decode()}
    assert pbx.api("prompt/upload", body, token=token)["status"] == "Success"


def plant_tone(pbx: PbxProcess, number: str) -> None:
    folder = pbx.data_dir / "voicemail" / number / "unread"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "msg0000.wav").write_bytes(tone_wav(1000, MESSAGE_HZ))
    meta = {"caller": "2003", "received_at": RECEIVED_AT}
    (folder / "msg0000.json").write_text(json.dumps(meta))


def tones_heard(pcm: bytes) -> list[float]:
    """The test's pure tones in the audio, in order: runs of at least 100 ms in which
    one of them holds nearly all the energy (speech never does)."""
    block = 320  # 20 ms at 8 kHz, 16 bit: a whole number of cycles of every tone
    heard: list[float] = []
    current, length = 0.0, 0
    for start in range(0, len(pcm) - block + 1, block):
        chunk = pcm[start : start + block]
        energy = sum(s * s for s in struct.unpack("=160h", chunk))
        hz = 0.0
        if energy > 160 * 800**2:
            hz = next((f for f in TONES if goertzel(chunk, 8000, f) > 0.8 * 80 * energy), 0.0)
        if hz == current:
            length += 1
            continue
        if current and length >= 5:
            heard.append(current)
        current, length = hz, 1
    if current and length >= 5:
        heard.append(current)
    return heard


def has(frequency: float) -> Callable[[list[float]], bool]:
    return lambda heard: frequency in heard


class Listener:
    """The caller's phone: sends silence (or a tone) in real time and keeps what it hears."""

    def __init__(self, caller: DialogCaller, phone: RtpPhone, to: tuple[str, int]) -> None:
        self.caller, self.phone, self.to = caller, phone, to
        self.index = 0

    def mark(self) -> int:
        return len(self.phone.received)

    def heard_since(self, mark: int) -> list[float]:
        return tones_heard(self._decoded(mark))

    def _decoded(self, mark: int) -> bytes:
        from kilopbx.media.codecs import Decoder, codec_named

        decoder = Decoder(codec_named("PCMU"))
        return b"".join(decoder.decode(p) for p in self.phone.received[mark:])

    def send(self, frequency: float, ms: int) -> None:
        self.index = pace(self.phone, self.to, self.phone.frames(frequency, ms), self.index)

    def until(
        self, wanted: Callable[[list[float]], bool], mark: int, seconds: float
    ) -> list[float]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.send(0.0, 200)
            heard = self.heard_since(mark)
            if wanted(heard):
                return heard
        raise AssertionError(f"not heard in {seconds} s: {self.heard_since(mark)}")

    def keys(self, text: str) -> None:
        for key in text:
            body = f"Signal={key}\r\nDuration=160\r\n".encode()
            assert self.caller.in_dialog("INFO", body, "application/dtmf-relay") == 200


def test_star98_envelope_then_a_greeting_recorded_and_heard(ivr_pbx: PbxProcess) -> None:
    token = ivr_pbx.login()
    box = {"number": "2002", "hasvoicemail": "on", "vmsecret": "4812"}
    assert ivr_pbx.api("extension/update", box, token=token)["status"] == "Success"
    arrived = datetime.fromtimestamp(RECEIVED_AT)
    upload(ivr_pbx, token, "vm-received", RECEIVED_HZ)
    upload(ivr_pbx, token, f"day-{arrived.weekday()}", WEEKDAY_HZ)
    upload(ivr_pbx, token, f"month-{arrived.month}", MONTH_HZ)
    plant_tone(ivr_pbx, "2002")
    phone = RtpPhone("PCMU", 0)
    caller = DialogCaller(ivr_pbx, "2001")
    try:
        listener = Listener(caller, phone, (HOST, media_port(caller.answered("*98", phone.port))))
        listener.send(0.0, 300)
        mark = listener.mark()
        listener.keys("2002#4812#")  # the mailbox, then its PIN
        heard = listener.until(has(MESSAGE_HZ), mark, 40.0)
        assert heard == [RECEIVED_HZ, WEEKDAY_HZ, MONTH_HZ, MESSAGE_HZ], heard
        mark = listener.mark()
        listener.keys("93")  # save it; then, at the main menu, record a greeting
        listener.until(has(BEEP_HZ), mark, 30.0)
        listener.send(0.0, 700)  # the beep ends, the recording starts
        listener.send(GREETING_HZ, 1500)
        listener.keys("#")
        listener.send(0.0, 500)
        listener.keys("#")  # leave the main menu
        answer_bye(caller)
    finally:
        caller.close()
        phone.close()
    greeting = ivr_pbx.data_dir / "voicemail" / "2002" / "greeting.wav"
    with wave.open(io.BytesIO(greeting.read_bytes()), "rb") as audio:
        pcm = audio.readframes(audio.getnframes())
    assert GREETING_HZ in tones_heard(pcm)
    saved = ivr_pbx.api("voicemail/query", {"number": "2002"}, token=token)
    assert [m["voicemailstatus"] for m in saved["voicemails"][0]["voicemail"]] == ["read"]
    # the next caller to reach 2002's box (no phone registered) hears the new greeting
    phone = RtpPhone("PCMU", 0)
    caller = DialogCaller(ivr_pbx, "2001")
    try:
        listener = Listener(caller, phone, (HOST, media_port(caller.answered("2002", phone.port))))
        listener.until(has(GREETING_HZ), listener.mark(), 15.0)
        assert caller.in_dialog("BYE") == 200
    finally:
        caller.close()
        phone.close()


def test_three_failed_logins_end_the_call(ivr_pbx: PbxProcess) -> None:
    token = ivr_pbx.login()
    before = ivr_pbx.api("voicemail/query", {"number": "all"}, token=token)
    phone = RtpPhone("PCMU", 0)
    caller = DialogCaller(ivr_pbx, "2001")
    try:
        listener = Listener(caller, phone, (HOST, media_port(caller.answered("*98", phone.port))))
        listener.send(0.0, 200)
        # an oversized mailbox number, an unknown box, a wrong PIN for a real box
        listener.keys("9" * 20 + "#" + "9999#0000#" + "2002#1111#")
        answer_bye(caller)
    finally:
        caller.close()
        phone.close()
    assert ivr_pbx.api("voicemail/query", {"number": "all"}, token=token) == before
