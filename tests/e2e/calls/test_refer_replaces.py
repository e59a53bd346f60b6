"""Attended transfer from a phone, byte by byte: a bare UDP phone 2001 has two calls,
one with 2002 and one with 2003 (both sipp phones whose audio the test sends and
decodes). It sends a REFER in the first whose Refer-To names 2003 with Replaces for
its dialog of the second. The PBX answers 202, NOTIFYs ``100 Trying`` and ``200 OK``,
BYEs both of 2001's legs and joins 2002 and 2003 in the first call (same callid),
who then hear each other; a ``Tranfer`` event names 2002 then 2001 (in both
event formats). A Replaces
naming no dialog is reported by a 481 sipfrag and changes nothing."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kilopbx.sip.message import SipRequest
from tests.e2e.calls.dialog_phone import TalkingCaller
from tests.e2e.calls.peers import answer, pbx_media_port, register, unregister
from tests.e2e.calls.rtp_phone import RtpPhone, talk
from tests.harness import HOST, EventReceiver, PbxProcess, free_port
from tests.media_audio import dominant_frequency

pytestmark = pytest.mark.peers


@pytest.fixture
def phones(call_pbx: PbxProcess, workdir: Path) -> Iterator[dict[str, tuple[int, Path]]]:
    """2002 and 2003 registered from ports of their own, each with its directory."""
    registered: dict[str, tuple[int, Path]] = {}
    for number in ("2002", "2003"):
        directory = workdir / number
        directory.mkdir()
        port = free_port(udp_too=True)
        register(call_pbx, number, port, directory)
        registered[number] = (port, directory)
    yield registered
    for number, (port, directory) in registered.items():
        unregister(call_pbx, number, port, directory)


def calls(pbx: PbxProcess, token: str, expected: list[list[tuple[str, str]]]) -> list[Any]:
    """The live calls once their members are ``expected`` (bounded wait)."""
    deadline = time.monotonic() + 10.0
    while True:
        live = pbx.api("call/query", {"type": "internal"}, token=token)["calls"]
        shown = [[(m["ext"]["number"], m["ext"]["memberstatus"]) for m in c["members"]]
                 for c in live]  # fmt: skip
        if sorted(shown) == sorted(expected):
            return list(live)
        assert time.monotonic() < deadline, live
        time.sleep(0.05)


def hold(phone: TalkingCaller) -> None:
    """The phone puts its call on hold (re-INVITE sendonly), as phones do before they
    consult: the other party hears the hold music."""
    phone.cseq += 1
    body = (
        f"v=0\r\no=- 1 2 IN IP4 {HOST}\r\ns=-\r\nc=IN IP4 {HOST}\r\nt=0 0\r\n"
        "m=audio 9 RTP/AVP 0\r\na=sendonly\r\n"
    ).encode()
    branch = f"z9hG4bK{secrets.token_hex(6)}"
    head = phone._request("INVITE", phone.uri, phone.cseq, branch, to_tag=phone.to_tag)
    length = f"Content-Type: application/sdp\r\nContent-Length: {len(body)}\r\n\r\n"
    phone._send(head + length, body)
    assert phone.final().status == 200
    ack = phone._request("ACK", phone.uri, phone.cseq, f"z9hG4bK{secrets.token_hex(6)}",
                         to_tag=phone.to_tag)  # fmt: skip
    phone._send(ack + "Content-Length: 0\r\n\r\n")


def notifies(phone: TalkingCaller, count: int) -> list[tuple[bytes, str]]:
    seen = []
    while len(seen) < count:
        request = phone.next_request()
        assert isinstance(request, SipRequest)
        if request.method != "NOTIFY":
            continue
        assert request.headers.get("Event") == "refer"
        assert (request.headers.get("Content-Type") or "").startswith("message/sipfrag")
        seen.append((request.body.strip(), request.headers.get("Subscription-State") or ""))
    return seen


def test_refer_with_replaces_joins_the_far_parties(
    call_pbx: PbxProcess,
    phones: dict[str, tuple[int, Path]],
    receiver: EventReceiver,
) -> None:
    token = call_pbx.login(port=receiver.port)
    legacy = EventReceiver().start()
    call_pbx.login_legacy(port=legacy.port)
    a_audio, c_audio = RtpPhone("PCMU", 0), RtpPhone("PCMU", 0)
    (a_port, a_dir), (c_port, c_dir) = phones["2002"], phones["2003"]
    a_uas = answer(call_pbx, a_port, a_dir, rtp=a_audio.port)
    c_uas = answer(call_pbx, c_port, c_dir, rtp=c_audio.port)
    with_a, with_c = TalkingCaller(call_pbx, "2001"), TalkingCaller(call_pbx, "2001")
    try:
        with_a.establish("2002")
        calls(call_pbx, token, [[("2001", "ANSWERED"), ("2002", "ANSWER")]])
        hold(with_a)  # 2002 hears the hold music while 2001 consults 2003
        calls(call_pbx, token, [[("2001", "HOLD"), ("2002", "ANSWER")]])
        with_c.establish("2003")
        both = [
            [("2001", "HOLD"), ("2002", "ANSWER")],
            [("2001", "ANSWERED"), ("2003", "ANSWER")],
        ]
        live = calls(call_pbx, token, both)
        first = next(c["callid"] for c in live if c["members"][1]["ext"]["number"] == "2002")
        here = f"{HOST}:{call_pbx.sip_port}"

        itself = f"{with_a.call_id}%3Bto-tag%3D{with_a.to_tag}%3Bfrom-tag%3D{with_a.tag}"
        refused = with_a.in_dialog("REFER", f"Refer-To: <sip:2003@{here}?Replaces={itself}>\r\n")
        assert refused.status == 202
        assert notifies(with_a, 2)[1][0].startswith(b"SIP/2.0 603")  # its own dialog
        unknown = "nosuchcall%3Bto-tag%3Dx%3Bfrom-tag%3Dy"
        refused = with_a.in_dialog("REFER", f"Refer-To: <sip:2003@{here}?Replaces={unknown}>\r\n")
        assert refused.status == 202
        progress = notifies(with_a, 2)
        assert progress[0][0] == b"SIP/2.0 100 Trying"
        assert progress[1][0].startswith(b"SIP/2.0 481") and progress[1][1].startswith("terminated")
        assert len(calls(call_pbx, token, both)) == 2  # nothing changed

        replaces = f"{with_c.call_id}%3Bto-tag%3D{with_c.to_tag}%3Bfrom-tag%3D{with_c.tag}"
        refer = f"Refer-To: <sip:2003@{here}?Replaces={replaces}>\r\n"
        assert with_a.in_dialog("REFER", refer).status == 202
        progress = notifies(with_a, 2)
        assert progress[0][0] == b"SIP/2.0 100 Trying"
        assert progress[1] == (b"SIP/2.0 200 OK", "terminated;reason=noresource")
        assert with_a.next_request().method == "BYE"  # the transferor's leg with 2002
        assert with_c.next_request().method == "BYE"  # and with 2003
        (joined,) = calls(call_pbx, token, [[("2002", "ANSWERED"), ("2003", "ANSWER")]])
        assert joined["callid"] == first  # the transferred call keeps its id

        to_a = (HOST, pbx_media_port(a_dir, "callee"))
        to_c = (HOST, pbx_media_port(c_dir, "callee"))
        time.sleep(0.1)  # the music's last frames, still on their way
        a_audio.drain()
        a_audio.received.clear()
        talk(a_audio, to_a, c_audio, to_c, a_hz=1000, b_hz=600, milliseconds=1000)
        assert 550 < dominant_frequency(a_audio.decoded(), a_audio.rate) < 650
        assert 950 < dominant_frequency(c_audio.decoded(), c_audio.rate) < 1050

        transfers = receiver.wait_for(
            lambda events: any(e.get("event") == "Tranfer" for e in events)
        )
        (event,) = [e for e in transfers if e.get("event") == "Tranfer"]
        assert event["callid"] == first
        assert [m["ext"]["number"] for m in event["members"]] == ["2002", "2001"]
        legacy.wait_for(lambda events: any(e.get("action") == "Tranfer" for e in events))
        (old,) = [b for b in legacy.bodies if b'"action":"Tranfer"' in b]
        assert old.index(b'"extid":"2002"') < old.index(b'"extid":"2001"')  # same order
        call_pbx.api("call/hangup", {"callid": first}, token=token)
        a_uas.finish()
        c_uas.finish()
    finally:
        a_uas.kill()
        c_uas.kill()
        for closing in (with_a, with_c, a_audio, c_audio):
            closing.close()
        legacy.stop()
    calls(call_pbx, token, [])
