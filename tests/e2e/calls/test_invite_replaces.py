"""INVITE with Replaces toward the PBX (RFC 3891), byte by byte: a bare UDP phone (2001)
talks to a sipp callee (2002); another bare phone (2003) sends INVITEs whose Replaces
names 2001's dialog. Malformed, unknown, early-only and stale ones are refused with
the RFC's status and change nothing; a good one takes 2001's place: 2001 gets a BYE,
2003 gets our 200 and talks to 2002 (audio checked), in the same call."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import pytest

from kilopbx.sip.message import SipRequest, SipResponse
from kilopbx.sip.parser import parse_message
from kilopbx.sip.sdp import parse_sdp
from tests.e2e.calls.dialog_caller import DialogCaller
from tests.e2e.calls.dialog_phone import TalkingCaller
from tests.e2e.calls.peers import answer, call, pbx_media_port, register, unregister
from tests.e2e.calls.rtp_phone import RtpPhone, talk
from tests.e2e.calls.sip_client import Caller
from tests.harness import HOST, PbxProcess, free_port
from tests.media_audio import dominant_frequency

pytestmark = pytest.mark.peers


def members(pbx: PbxProcess, token: str) -> list[Any]:
    calls = pbx.api("call/query", {"type": "internal"}, token=token)["calls"]
    return [
        (c["callid"], m["ext"]["number"], m["ext"]["memberstatus"])
        for c in calls
        for m in c["members"]
    ]


def wait_members(pbx: PbxProcess, token: str, expected: list[tuple[str, str]]) -> str:
    deadline = time.monotonic() + 10.0
    while True:
        shown = members(pbx, token)
        if [(number, status) for _, number, status in shown] == expected:
            return str(shown[0][0]) if shown else ""
        assert time.monotonic() < deadline, shown
        time.sleep(0.05)


def sdp_for(port: int) -> bytes:
    return (
        f"v=0\r\no=- 1 1 IN IP4 {HOST}\r\ns=-\r\nc=IN IP4 {HOST}\r\nt=0 0\r\n"
        f"m=audio {port} RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"
    ).encode()


def supported(phone: Caller) -> list[str]:
    """The option tags the PBX's answer to an OPTIONS lists."""
    uri = f"sip:{HOST}:{phone.pbx.sip_port}"
    phone._send(phone._request("OPTIONS", uri, 1, "z9hG4bKopt1") + "Content-Length: 0\r\n\r\n")
    answered = phone.final()
    while answered.cseq[1] != "OPTIONS":  # a late answer to an earlier INVITE
        answered = phone.final()
    assert answered.status == 200, answered
    values = answered.headers.get_all("Supported")
    return [tag.strip() for value in values for tag in value.split(",")]


def test_invite_with_replaces_refusals_then_a_takeover_with_audio(
    call_pbx: PbxProcess, callee_port: int, workdir: Path
) -> None:
    token = call_pbx.login()
    far, taker_audio = RtpPhone("PCMU", 0), RtpPhone("PCMU", 0)
    uas = answer(call_pbx, callee_port, workdir, rtp=far.port)
    phone = TalkingCaller(call_pbx, "2001")
    intruder = Caller(call_pbx, "2003")
    taker = DialogCaller(call_pbx, "2003")
    try:
        phone.establish("2002")
        call_id = wait_members(call_pbx, token, [("2001", "ANSWERED"), ("2002", "ANSWER")])
        ours = f"{phone.call_id};to-tag={phone.to_tag};from-tag={phone.tag}"
        refusals = {
            f"Replaces: {phone.call_id}\r\n": 400,  # no tags
            f"Replaces: {ours}\r\nReplaces: {ours}\r\n": 400,  # two
            f"Replaces: {ours};to-tag=x\r\n": 400,
            f"Replaces: {'x' * 3000};to-tag=a;from-tag=b\r\n": 400,
            f"Replaces: nosuchcall;to-tag={phone.to_tag};from-tag={phone.tag}\r\n": 481,
            f"Replaces: {phone.call_id};to-tag={phone.tag};from-tag={phone.to_tag}\r\n": 481,
            f"Replaces: {ours};early-only\r\n": 486,  # the dialog is answered
        }
        for headers, status in refusals.items():
            assert intruder.invite("2001", headers=headers).status == status, headers
        wait_members(call_pbx, token, [("2001", "ANSWERED"), ("2002", "ANSWER")])  # unchanged
        assert "replaces" in supported(intruder)

        taker.send_invite("2001", sdp_for(taker_audio.port), f"Replaces: {ours}\r\n")
        answered = taker.responses_until(200)[-1]
        assert isinstance(answered, SipResponse) and answered.status == 200
        taker.ack()
        assert phone.next_request().method == "BYE"  # the replaced phone is released
        now = wait_members(call_pbx, token, [("2002", "ANSWERED"), ("2003", "ANSWER")])
        assert now == call_id  # the same call
        media = parse_sdp(answered.body).media[0]
        to_taker = (HOST, media.port)
        to_far = (HOST, pbx_media_port(workdir, "callee"))
        talk(far, to_far, taker_audio, to_taker, a_hz=1000, b_hz=600, milliseconds=1000)
        assert 550 < dominant_frequency(far.decoded(), far.rate) < 650
        assert 950 < dominant_frequency(taker_audio.decoded(), taker_audio.rate) < 1050

        # the replaced dialog has ended: a second takeover is declined
        assert intruder.invite("2001", headers=f"Replaces: {ours}\r\n").status == 603
        taker.request("BYE", cseq=taker.cseq + 1)
        uas.finish()
    finally:
        uas.kill()
        for closing in (phone, intruder, taker, far, taker_audio):
            closing.close()
    wait_members(call_pbx, token, [])


def ringing(invite: SipRequest, tag: str, port: int) -> bytes:
    """Our 180 to the PBX's INVITE, opening an early dialog with To tag ``tag``."""
    lines = ["SIP/2.0 180 Ringing"]
    for name in ("Via", "From", "Call-ID", "CSeq"):
        lines += [f"{name}: {value}" for value in invite.headers.get_all(name)]
    lines.append(f"To: {invite.headers.get('To')};tag={tag}")
    lines.append(f"Contact: <sip:2002@{HOST}:{port}>")
    return ("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode()


def test_invite_with_replaces_of_a_ringing_branch_answers_the_call(
    call_pbx: PbxProcess, workdir: Path
) -> None:
    """Replacing the early dialog of a phone the PBX rings (RFC 3891 §3: one we
    initiated) picks the call up: the new phone answers it, the ringing one gets a
    CANCEL, and caller and new phone hear each other."""
    token = call_pbx.login()
    ringing_port = free_port(udp_too=True)
    register(call_pbx, "2002", ringing_port, workdir)
    caller_audio, taker_audio = RtpPhone("PCMU", 0), RtpPhone("PCMU", 0)
    taker = DialogCaller(call_pbx, "2003")
    uac = None
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rung:
            rung.bind((HOST, ringing_port))
            rung.settimeout(10)
            uac = call(
                call_pbx, "2001", "2002", workdir, scenario="uac_media_wait_bye.xml",
                rtp=caller_audio.port,
            )  # fmt: skip
            invite = parse_message(rung.recv(65535))
            assert isinstance(invite, SipRequest) and invite.method == "INVITE"
            rung.sendto(ringing(invite, "ring1", ringing_port), (HOST, call_pbx.sip_port))
            call_id = wait_members(call_pbx, token, [("2001", "ALERT"), ("2002", "RING")])
            pbx_tag = invite.from_.tag
            replaces = f"{invite.headers.get('Call-ID')};to-tag={pbx_tag};from-tag=ring1"
            taker.send_invite("2002", sdp_for(taker_audio.port), f"Replaces: {replaces}\r\n")
            answered = taker.responses_until(200)[-1]
            assert answered.status == 200
            taker.ack()
            cancel = parse_message(rung.recv(65535))
            assert isinstance(cancel, SipRequest) and cancel.method == "CANCEL"
        now = wait_members(call_pbx, token, [("2001", "ANSWERED"), ("2003", "ANSWER")])
        assert now == call_id
        to_caller = (HOST, pbx_media_port(workdir, "caller"))
        to_taker = (HOST, parse_sdp(answered.body).media[0].port)
        talk(caller_audio, to_caller, taker_audio, to_taker, a_hz=1000, b_hz=600)
        assert 550 < dominant_frequency(caller_audio.decoded(), caller_audio.rate) < 650
        assert 950 < dominant_frequency(taker_audio.decoded(), taker_audio.rate) < 1050
        call_pbx.api("call/hangup", {"callid": call_id}, token=token)
        uac.finish()
    finally:
        if uac is not None:
            uac.kill()
        for closing in (taker, caller_audio, taker_audio):
            closing.close()
        unregister(call_pbx, "2002", ringing_port, workdir)
    wait_members(call_pbx, token, [])
