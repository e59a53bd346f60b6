"""A caller whose phone has no telephone-event, driven from Python: it hears the IVR's
prompt as real RTP, presses 1 as in-band tones to reach extension 2002, and once
connected its in-band key and its SIP INFO key reach 2002 as RFC 4733 events (the
conversion between the two legs' forms)."""

from __future__ import annotations

import math
import secrets
import struct
import time
from pathlib import Path

import pytest

from kilopbx.media.inband_dtmf import HIGH, KEYS, LOW
from kilopbx.sip.message import SipResponse
from kilopbx.sip.parser import parse_message
from tests.e2e.calls.peers import answer, pbx_media_port
from tests.e2e.calls.rtp_phone import RtpPhone
from tests.e2e.calls.sip_client import Caller
from tests.e2e.ivr.conftest import IVR_MAIN
from tests.harness import HOST, PbxProcess
from tests.media_audio import level

pytestmark = pytest.mark.peers


def key_frames(phone: RtpPhone, key: str, tone_ms: int = 120, gap_ms: int = 200) -> list[bytes]:
    row = next(i for i, keys in enumerate(KEYS) if key in keys)
    low, high = LOW[row], HIGH[KEYS[row].index(key)]
    count = 8000 * tone_ms // 1000
    samples = [
        int(
            7000 * math.sin(2 * math.pi * low * n / 8000)
            + 7000 * math.sin(2 * math.pi * high * n / 8000)
        )
        for n in range(count)
    ] + [0] * (8000 * gap_ms // 1000)
    pcm = struct.pack(f"={len(samples)}h", *samples)
    silence = phone.frames(0.0, 20)[0]
    from kilopbx.media.codecs import PCMU, encode

    return [silence] * 3 + [encode(PCMU, pcm[i : i + 320]) for i in range(0, len(pcm) - 319, 320)]


class DialogCaller(Caller):
    """The bare caller, keeping the call up: ACK the 200, later INFO and BYE in it."""

    def answered(self, dialled: str, rtp_port: int) -> SipResponse:
        self.uri = f"sip:{dialled}@{HOST}:{self.pbx.sip_port}"
        sdp = (
            f"v=0\r\no=- 1 1 IN IP4 {HOST}\r\ns=-\r\nc=IN IP4 {HOST}\r\nt=0 0\r\n"
            f"m=audio {rtp_port} RTP/AVP 0\r\n"
        ).encode()
        self.call_id, self.tag = secrets.token_hex(8), secrets.token_hex(4)
        extra = ""
        from kilopbx.sip.digest import build_authorization, parse_challenge

        for cseq in (1, 2):
            branch = f"z9hG4bK{secrets.token_hex(6)}"
            head = f"Content-Type: application/sdp\r\nContent-Length: {len(sdp)}\r\n\r\n"
            self._send(self._request("INVITE", self.uri, cseq, branch, extra=extra + head), sdp)
            response = self.final()
            self.to_tag = response.to.tag or ""
            if response.status == 407:
                ack = self._request("ACK", self.uri, cseq, branch, to_tag=self.to_tag)
                self._send(ack + "Content-Length: 0\r\n\r\n")
                challenge = parse_challenge(response.headers.get_all("Proxy-Authenticate")[0])
                auth = build_authorization(
                    challenge, method="INVITE", uri=self.uri, username=self.number,
                    password=self.password,
                )  # fmt: skip
                extra = f"Proxy-Authorization: {auth}\r\n"
                continue
            break
        assert response.status == 200, response.status
        ack = self._request(
            "ACK", self.uri, 2, f"z9hG4bK{secrets.token_hex(6)}", to_tag=self.to_tag
        )
        self._send(ack + "Content-Length: 0\r\n\r\n")
        self.cseq = 3
        return response

    def in_dialog(self, method: str, body: bytes = b"", content_type: str = "") -> int:
        self.cseq += 1
        branch = f"z9hG4bK{secrets.token_hex(6)}"
        head = f"Content-Type: {content_type}\r\n" if content_type else ""
        head += f"Content-Length: {len(body)}\r\n\r\n"
        self._send(
            self._request(method, self.uri, self.cseq, branch, to_tag=self.to_tag, extra=head),
            body,
        )
        while True:  # requests from the PBX (none expected) are skipped
            message = parse_message(self.sock.recv(65535))
            if isinstance(message, SipResponse) and message.status >= 200:
                return message.status


def media_port(response: SipResponse) -> int:
    for line in response.body.decode().splitlines():
        if line.startswith("m=audio "):
            return int(line.split()[1])
    raise AssertionError("no m=audio in the answer")


def pace(phone: RtpPhone, to: tuple[str, int], frames: list[bytes], first: int) -> int:
    start = time.monotonic()
    for i, frame in enumerate(frames):
        phone.send(to, frame, first + i)
        phone.drain()
        pause = start + (i + 1) * 0.02 - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    return first + len(frames)


def test_prompt_heard_in_band_key_connects_and_keys_are_converted(
    ivr_pbx: PbxProcess, phones: dict[str, int], workdir: Path
) -> None:
    callee_phone = RtpPhone("PCMU", 0)
    callee = answer(ivr_pbx, phones["2002"], workdir, rtp=callee_phone.port, talk_ms=500)
    phone = RtpPhone("PCMU", 0)
    caller = DialogCaller(ivr_pbx, "2001")
    try:
        response = caller.answered(IVR_MAIN, phone.port)
        to_pbx = (HOST, media_port(response))
        # the prompt: real audio, heard while our phone sends silence
        index = pace(phone, to_pbx, phone.frames(0.0, 400), 0)
        assert len(phone.received) >= 10
        assert level(phone.decoded()) > 500
        # key 1 in band: the IVR rings 2002, which answers
        index = pace(phone, to_pbx, key_frames(phone, "1"), index)
        to_callee_leg = (HOST, pbx_media_port(workdir, "callee"))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # until the bridge carries our audio
            index = pace(phone, to_pbx, phone.frames(1000.0, 100), index)
            pace(callee_phone, to_callee_leg, callee_phone.frames(500.0, 100), index)
            if callee_phone.received:
                break
        assert callee_phone.received, "the call never reached 2002"
        # connected: an in-band 5 and an INFO 7 reach 2002 as RFC 4733 events
        index = pace(phone, to_pbx, key_frames(phone, "5"), index)
        assert (
            caller.in_dialog("INFO", b"Signal=7\r\nDuration=160\r\n", "application/dtmf-relay")
            == 200
        )
        assert caller.in_dialog("INFO", b"garbage", "application/dtmf-relay") == 200  # no key
        deadline = time.monotonic() + 3
        while callee_phone.digits != [5, 7] and time.monotonic() < deadline:
            pace(callee_phone, to_callee_leg, callee_phone.frames(500.0, 100), index)
        assert callee_phone.digits == [5, 7]
        assert caller.in_dialog("BYE") == 200
        callee.finish()
    finally:
        callee.kill()
        caller.close()
        phone.close()
        callee_phone.close()
