"""Keys toward a phone that has neither telephone-event nor SIP INFO: 2001 (no
telephone-event in its SDP, and it answers INFO with 501) calls 2002 (sipp, with
telephone-event). 2002's RFC 4733 key is first offered to 2001 as SIP INFO; refused,
it is played into 2001's audio as its DTMF tone pair, where an in-band detector
finds it. The next key goes straight to tones, without another INFO. And `*1` sent
as SIP INFO during a call records it on demand, as the RFC 4733 keys do."""

from __future__ import annotations

import time
import wave
from pathlib import Path

import pytest

from kilopbx.media.codecs import Decoder, codec_named
from kilopbx.media.inband_dtmf import InbandDetector
from kilopbx.sip.message import SipRequest
from kilopbx.sip.parser import parse_message
from tests.e2e.calls.peers import answer, pbx_media_port
from tests.e2e.calls.rtp_phone import RtpPhone
from tests.e2e.ivr.test_ivr_audio import DialogCaller, media_port, pace
from tests.harness import HOST, PbxProcess
from tests.media_audio import goertzel, level

pytestmark = pytest.mark.peers


def refuse_infos(caller: DialogCaller, infos: list[str]) -> None:
    """Answer what the PBX sent the caller: INFO 501 (kept in ``infos``), else 200."""
    caller.sock.setblocking(False)
    try:
        while True:
            try:
                data, source = caller.sock.recvfrom(65535)
            except BlockingIOError:
                return
            request = parse_message(data)
            if not isinstance(request, SipRequest):
                continue
            status = "501 Not Implemented" if request.method == "INFO" else "200 OK"
            if request.method == "INFO":
                infos.append(request.body.decode(errors="replace"))
            head = "".join(
                f"{name}: {request.headers.get_all(name)[0]}\r\n"
                for name in ("Via", "From", "To", "Call-ID", "CSeq")
            )
            caller.sock.sendto(f"SIP/2.0 {status}\r\n{head}Content-Length: 0\r\n\r\n".encode(),
                               source)  # fmt: skip
    finally:
        caller.sock.setblocking(True)


def keys_heard(phone: RtpPhone, mark: int) -> list[str]:
    decoder = Decoder(codec_named("PCMU"))
    pcm = b"".join(decoder.decode(p) for p in phone.received[mark:])
    return [found.digit for found in InbandDetector(8000).feed(pcm + bytes(1600))]


def test_keys_reach_a_phone_without_events_nor_info_as_tones(
    ivr_pbx: PbxProcess, phones: dict[str, int], workdir: Path
) -> None:
    callee_phone = RtpPhone("PCMU", 0)
    callee = answer(ivr_pbx, phones["2002"], workdir, rtp=callee_phone.port, talk_ms=500)
    phone = RtpPhone("PCMU", 0)
    caller = DialogCaller(ivr_pbx, "2001")
    infos: list[str] = []
    try:
        to_pbx = (HOST, media_port(caller.answered("2002", phone.port)))
        to_callee_leg = (HOST, pbx_media_port(workdir, "callee"))
        index = 0
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # until 2002's audio reaches 2001
            index = pace(phone, to_pbx, phone.frames(0.0, 100), index)
            pace(callee_phone, to_callee_leg, callee_phone.frames(500.0, 100), index)
            if (
                phone.received
                and level(Decoder(codec_named("PCMU")).decode(phone.received[-1])) > 500
            ):
                break
        for digit, key in ((5, "5"), (8, "8")):
            mark = len(phone.received)
            index = callee_phone.send_digit(to_callee_leg, digit, index)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and key not in keys_heard(phone, mark):
                refuse_infos(caller, infos)
                index = pace(phone, to_pbx, phone.frames(0.0, 100), index)
                pace(callee_phone, to_callee_leg, callee_phone.frames(0.0, 100), index)
            assert keys_heard(phone, mark) == [key], (key, infos)
        refuse_infos(caller, infos)
        assert len(infos) == 1 and "Signal=5" in infos[0]  # refused once, then tones only
        caller.sock.settimeout(5.0)
        assert caller.in_dialog("BYE") == 200
        callee.finish()
    finally:
        callee.kill()
        caller.close()
        phone.close()
        callee_phone.close()


def test_star_1_by_sip_info_records_the_call(
    ivr_pbx: PbxProcess, phones: dict[str, int], workdir: Path
) -> None:
    before = set((ivr_pbx.data_dir / "recordings").glob("*.wav"))
    callee_phone = RtpPhone("PCMU", 0)
    callee = answer(ivr_pbx, phones["2002"], workdir, rtp=callee_phone.port, talk_ms=500)
    phone = RtpPhone("PCMU", 0)
    caller = DialogCaller(ivr_pbx, "2001")
    try:
        to_pbx = (HOST, media_port(caller.answered("2002", phone.port)))
        to_callee_leg = (HOST, pbx_media_port(workdir, "callee"))
        index = pace(phone, to_pbx, phone.frames(0.0, 200), 0)
        for key in "*1":
            body = f"Signal={key}\r\nDuration=160\r\n".encode()
            assert caller.in_dialog("INFO", body, "application/dtmf-relay") == 200
        for _ in range(75):  # 1.5 s of both talking, each its own tone
            index = pace(phone, to_pbx, phone.frames(600.0, 20), index)
            pace(callee_phone, to_callee_leg, callee_phone.frames(1500.0, 20), index)
        assert caller.in_dialog("BYE") == 200
        callee.finish()
    finally:
        callee.kill()
        caller.close()
        phone.close()
        callee_phone.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the worker appends once a second, then closes it
        made = set((ivr_pbx.data_dir / "recordings").glob("*-2001-2002-*.wav")) - before
        if made and both_talkers(made):
            break
        time.sleep(0.1)
    assert len(made) == 1 and both_talkers(made), made


def both_talkers(paths: set[Path]) -> bool:
    (path,) = paths
    try:
        with wave.open(str(path)) as audio:
            pcm = audio.readframes(audio.getnframes())
    except (OSError, EOFError, wave.Error):
        return False  # not written yet
    control = goertzel(pcm, 8000, 1000)
    return goertzel(pcm, 8000, 600) > 20 * control and goertzel(pcm, 8000, 1500) > 20 * control
