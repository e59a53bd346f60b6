"""Leaving a voicemail from the IVR (key 8 -> 2003's box): greeting, beep, a 1 kHz
tone recorded until `#`; `voicemail/query` lists it and the WAV holds the tone."""

from __future__ import annotations

import io
import os
import signal
import time
import wave

import pytest

from kilopbx.sip.message import SipRequest
from kilopbx.sip.parser import parse_message
from tests.e2e.calls.rtp_phone import RtpPhone
from tests.e2e.ivr.conftest import IVR_MAIN
from tests.e2e.ivr.test_ivr_audio import DialogCaller, key_frames, media_port, pace
from tests.e2e.ivr.test_voicemail_api import download
from tests.harness import HOST, PbxProcess, media_workers
from tests.media_audio import dominant_frequency, level

pytestmark = pytest.mark.peers


def answer_bye(caller: DialogCaller) -> None:
    """Wait for the PBX's BYE and answer it 200."""
    caller.sock.settimeout(10.0)
    while True:
        data, source = caller.sock.recvfrom(65535)
        message = parse_message(data)
        if isinstance(message, SipRequest) and message.method == "BYE":
            headers = "".join(
                f"{name}: {message.headers.get_all(name)[0]}\r\n"
                for name in ("Via", "From", "To", "Call-ID", "CSeq")
            )
            caller.sock.sendto(
                f"SIP/2.0 200 OK\r\n{headers}Content-Length: 0\r\n\r\n".encode(), source
            )
            return


def test_a_message_is_left_listed_and_holds_the_audio(ivr_pbx: PbxProcess) -> None:
    token = ivr_pbx.login()
    assert ivr_pbx.api("voicemail/query", {"number": "2003"}, token=token) == {"status": "Success"}
    phone = RtpPhone("PCMU", 0)
    caller = DialogCaller(ivr_pbx, "2001")
    try:
        to_pbx = (HOST, media_port(caller.answered(IVR_MAIN, phone.port)))
        index = pace(phone, to_pbx, phone.frames(0.0, 300), 0)
        index = pace(phone, to_pbx, key_frames(phone, "8"), index)
        index = pace(phone, to_pbx, phone.frames(0.0, 1200), index)  # greeting and beep
        index = pace(phone, to_pbx, phone.frames(1000.0, 2000), index)  # the message
        pace(phone, to_pbx, key_frames(phone, "#"), index)
        answer_bye(caller)
    finally:
        caller.close()
        phone.close()
    answer = ivr_pbx.api("voicemail/query", {"number": "2003,2002"}, token=token)
    [box] = answer["voicemails"]
    [message] = box["voicemail"]
    assert box["number"] == "2003"
    assert message["voicemailfile"] == "msg0000.wav"
    assert (message["messagefrom"], message["voicemailstatus"]) == ("2001", "unread")
    assert message["voicemaillength"] in ("2", "3", "4"), message
    wanted = {"number": "2003", "voicemailstatus": "unread", "voicemailfile": "msg0000.wav"}
    random = ivr_pbx.api("voicemail/get_random", wanted, token=token)["random"]
    status, _, body = download(ivr_pbx, token, random, **wanted)
    assert status == 200
    with wave.open(io.BytesIO(body), "rb") as audio:  # the downloaded file
        rate = audio.getframerate()
        pcm = audio.readframes(audio.getnframes())
    block = rate // 50 * 2
    voiced = b"".join(
        pcm[i : i + block] for i in range(0, len(pcm), block) if level(pcm[i : i + block]) > 500
    )
    assert len(voiced) >= rate * 2 * 1.5  # at least 1.5 s of the 2 s tone
    assert 950 < dominant_frequency(voiced, rate) < 1050


def test_voicemail_query_errors(ivr_pbx: PbxProcess) -> None:
    token = ivr_pbx.login()
    assert ivr_pbx.api("voicemail/query", {"numbers": "2003"}, token=token)["errno"] == "10004"
    assert (
        ivr_pbx.api("voicemail/query", {"number": "9999,x/../1"}, token=token)["errno"] == "10006"
    )
    assert ivr_pbx.api("voicemail/query", {"number": "all"}, token=token)["status"] == "Success"


def test_busy_forwarding_to_voicemail_takes_a_message_ended_by_hanging_up(
    ivr_pbx: PbxProcess,
) -> None:
    """2003 in DND with busy forwarding to its voicemail: a call to it is answered by
    the box, and the caller's hang-up ends (and keeps) the message."""
    token = ivr_pbx.login()
    forward = {"number": "2003", "dnd": "on", "busyforward": "on", "btransferto": "Voicemail"}
    assert ivr_pbx.api("extension/update", forward, token=token)["status"] == "Success"
    before = ivr_pbx.api("voicemail/query", {"number": "2003"}, token=token)
    count = len(before["voicemails"][0]["voicemail"]) if "voicemails" in before else 0
    phone = RtpPhone("PCMU", 0)
    caller = DialogCaller(ivr_pbx, "2001")
    try:
        to_pbx = (HOST, media_port(caller.answered("2003", phone.port)))
        index = pace(phone, to_pbx, phone.frames(0.0, 1200), 0)  # greeting and beep
        pace(phone, to_pbx, phone.frames(500.0, 1500), index)
        assert caller.in_dialog("BYE") == 200
    finally:
        caller.close()
        phone.close()
        reset = {"number": "2003", "dnd": "off", "busyforward": "off"}
        ivr_pbx.api("extension/update", reset, token=token)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        answer = ivr_pbx.api("voicemail/query", {"number": "2003"}, token=token)
        messages = answer.get("voicemails", [{"voicemail": []}])[0]["voicemail"]
        if len(messages) > count:
            break
        time.sleep(0.1)
    newest = messages[-1]
    assert len(messages) == count + 1
    assert newest["messagefrom"] == "2001" and newest["voicemailstatus"] == "unread"
    assert int(newest["voicemaillength"]) >= 1


def test_always_forwarding_to_voicemail_answers_without_ringing(ivr_pbx: PbxProcess) -> None:
    """2003 forwards every call to its voicemail, and nothing else: with no phone
    registered and no no-answer forwarding the call would fail, but the box answers."""
    token = ivr_pbx.login()
    forward = {"number": "2003", "alwaysforward": "on", "atransferto": "Voicemail",
               "noanswerforward": "off", "busyforward": "off"}  # fmt: skip
    assert ivr_pbx.api("extension/update", forward, token=token)["status"] == "Success"
    phone = RtpPhone("PCMU", 0)
    caller = DialogCaller(ivr_pbx, "2001")
    try:
        to_pbx = (HOST, media_port(caller.answered("2003", phone.port)))
        pace(phone, to_pbx, phone.frames(0.0, 1200), 0)  # greeting and beep
        assert caller.in_dialog("BYE") == 200
    finally:
        caller.close()
        phone.close()
        reset = {"number": "2003", "alwaysforward": "off", "noanswerforward": "on"}
        ivr_pbx.api("extension/update", reset, token=token)


def test_a_message_being_recorded_survives_a_killed_media_worker(ivr_pbx: PbxProcess) -> None:
    """kill -9 of the worker in the middle of a message: the caller is hung up, and the
    message is kept, cut where the worker died, as a valid WAV holding the tone."""
    token = ivr_pbx.login()
    phone = RtpPhone("PCMU", 0)
    caller = DialogCaller(ivr_pbx, "2001")
    try:
        to_pbx = (HOST, media_port(caller.answered(IVR_MAIN, phone.port)))
        index = pace(phone, to_pbx, phone.frames(0.0, 300), 0)
        index = pace(phone, to_pbx, key_frames(phone, "8"), index)
        index = pace(phone, to_pbx, phone.frames(0.0, 1200), index)  # greeting and beep
        pace(phone, to_pbx, phone.frames(700.0, 2500), index)
        (worker,) = media_workers(ivr_pbx)
        os.kill(worker, signal.SIGKILL)
        answer_bye(caller)
    finally:
        caller.close()
        phone.close()
    messages = ivr_pbx.api("voicemail/query", {"number": "2003"}, token=token)["voicemails"][0]
    newest = messages["voicemail"][-1]
    assert newest["messagefrom"] == "2001" and int(newest["voicemaillength"]) >= 1
    path = ivr_pbx.data_dir / "voicemail" / "2003" / "unread" / newest["voicemailfile"]
    with wave.open(str(path), "rb") as audio:  # a valid WAV
        rate = audio.getframerate()
        pcm = audio.readframes(audio.getnframes())
    block = rate // 50 * 2
    voiced = b"".join(
        pcm[i : i + block] for i in range(0, len(pcm), block) if level(pcm[i : i + block]) > 500
    )
    assert len(voiced) >= rate * 2  # at least a second of the tone
    assert 650 < dominant_frequency(voiced, rate) < 750
