"""A callee behind NAT: its REGISTER, its 200 and its SDP all name an address that is
not the one its packets come from (its "private" side), as a phone behind a NAT
router does. The PBX must send it everything to where its packets come from: the
INVITE and, in its dialog, the ACK and the BYE (the registration's and the dialog's
flow, never the Contact), and its audio once the relay has latched onto the source
of its RTP (symmetric RTP). Audio is checked both ways by the frequency each phone
hears.

The announced address is 127.18.0.5, where nothing listens: a loopback address, so
that a PBX that got it wrong sends nothing off this machine, and a packet sent
there (rather than to the phone's real 127.0.0.1 socket) never reaches the phone.
"""

from __future__ import annotations

import re
import secrets
import socket
import time
from pathlib import Path

import pytest

from kilopbx.sip.message import SipRequest
from kilopbx.sip.parser import parse_message
from tests.e2e.calls.dialog_phone import ok
from tests.e2e.calls.peers import PASSWORD, call, pbx_media_port
from tests.e2e.calls.rtp_phone import RtpPhone, talk
from tests.e2e.sip_traffic import MiniPhone
from tests.harness import HOST, PbxProcess
from tests.media_audio import dominant_frequency

pytestmark = pytest.mark.peers

PRIVATE = ("127.18.0.5", 5062)  # what the phone says it is
PRIVATE_RTP = 40_000
WAIT = 10.0


class NatPhone(MiniPhone):
    """A phone whose Via, Contact and SDP show ``PRIVATE``; its socket is elsewhere."""

    def __init__(self, pbx: PbxProcess) -> None:
        super().__init__(pbx.sip_port)
        self.pbx_port = pbx.sip_port
        self.real = self.sock.getsockname()
        self.local_ip, self.local_port = PRIVATE  # used in Via and Contact
        self.to_tag = f"nat{secrets.token_hex(3)}"

    def next_request(self, method: str) -> SipRequest:
        """The PBX's next ``method`` request on our real socket (others are skipped)."""
        deadline = time.monotonic() + WAIT
        while (remaining := deadline - time.monotonic()) > 0:
            self.sock.settimeout(remaining)
            try:
                data, source = self.sock.recvfrom(65535)
            except TimeoutError:
                break
            message = parse_message(data)
            if isinstance(message, SipRequest) and message.method == method:
                assert source == ("127.0.0.1", self.pbx_port), source
                return message
        raise AssertionError(f"no {method} reached the phone's real address")

    def answer(self, invite: SipRequest) -> None:
        """200 with our private Contact and SDP (PCMU on PRIVATE_RTP)."""
        sdp = (
            f"v=0\r\no=- 1 1 IN IP4 {PRIVATE[0]}\r\ns=-\r\nc=IN IP4 {PRIVATE[0]}\r\nt=0 0\r\n"
            f"m=audio {PRIVATE_RTP} RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"
        ).encode()
        lines = ["SIP/2.0 200 OK"]
        lines += [f"Via: {value}" for value in invite.headers.get_all("Via")]
        lines += [f"From: {invite.headers.get('From')}"]
        lines += [f"To: {invite.headers.get('To')};tag={self.to_tag}"]
        lines += [
            f"Call-ID: {invite.headers.get('Call-ID')}",
            f"CSeq: {invite.headers.get('CSeq')}",
        ]
        lines += [f"Contact: <sip:2002@{PRIVATE[0]}:{PRIVATE[1]}>"]
        lines += ["Content-Type: application/sdp", f"Content-Length: {len(sdp)}"]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode()
        self.sock.sendto(head + sdp, ("127.0.0.1", self.pbx_port))


def media_of(invite: SipRequest) -> tuple[str, int]:
    text = invite.body.decode()
    host = re.search(r"c=IN IP4 (\S+)", text)
    port = re.search(r"m=audio (\d+)", text)
    assert host is not None and port is not None, text
    return host.group(1), int(port.group(1))


def test_callee_behind_nat_gets_signalling_and_audio_at_its_source(
    call_pbx: PbxProcess, workdir: Path
) -> None:
    phone = NatPhone(call_pbx)
    caller_rtp, callee_rtp = RtpPhone("PCMU", 0), RtpPhone("PCMU", 0)
    try:
        assert phone.register("2002", "2002", PASSWORD) == 200
        uac = call(call_pbx, "2001", "2002", workdir, pts="0", rtp=caller_rtp.port, talk_ms=2500)
        try:
            invite = phone.next_request("INVITE")  # to the registration's source
            to_callee_leg = media_of(invite)
            assert to_callee_leg[0] == HOST
            phone.answer(invite)
            phone.next_request("ACK")  # the dialog's flow, not the private Contact
            to_caller_leg = (HOST, pbx_media_port(workdir, "caller"))
            talk(caller_rtp, to_caller_leg, callee_rtp, to_callee_leg, a_hz=1000, b_hz=500)
            bye = phone.next_request("BYE")  # the caller hung up: passed on to us
            phone.sock.sendto(ok(bye), ("127.0.0.1", call_pbx.sip_port))
            uac.finish()
        finally:
            uac.kill()
    finally:
        phone.close()
        caller_rtp.close()
        callee_rtp.close()
    assert len(callee_rtp.received) >= 30 and len(caller_rtp.received) >= 30
    # our RTP reached the phone at the socket it sends from, not its SDP's address
    assert callee_rtp.sources == {to_callee_leg}
    heard_by_callee = dominant_frequency(callee_rtp.decoded(), callee_rtp.rate)
    heard_by_caller = dominant_frequency(caller_rtp.decoded(), caller_rtp.rate)
    assert 950 < heard_by_callee < 1050, heard_by_callee
    assert 450 < heard_by_caller < 550, heard_by_caller


def test_the_private_address_is_really_unreachable() -> None:
    """The premise: a datagram to the announced address does not reach the phone's
    real socket (bound to 127.0.0.1 only)."""
    real = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    real.bind((HOST, 0))
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        real.settimeout(0.3)
        sender.sendto(b"x", (PRIVATE[0], real.getsockname()[1]))
        with pytest.raises(TimeoutError):
            real.recv(16)
    finally:
        real.close()
        sender.close()
