"""A caller's INVITE without SDP (delayed offer: our offer in the 200, its answer in
the ACK) and a caller asking for reliable provisional responses (RFC 3262), against a
sipp callee, one PBX for the module."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kilopbx.sip.sdp import parse_sdp
from tests.e2e.calls.dialog_caller import DialogCaller
from tests.e2e.calls.peers import answer
from tests.e2e.calls.sip_client import SDP
from tests.harness import EventReceiver, PbxProcess

pytestmark = pytest.mark.peers

ANSWER = (
    b"v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 9 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
)


def new_cdr(receiver: EventReceiver) -> dict[str, Any]:
    events = receiver.wait_for(lambda evs: any(e.get("event") == "NewCdr" for e in evs))
    (cdr,) = [e for e in events if e.get("event") == "NewCdr"]
    return cdr


def test_delayed_offer_gets_our_offer_in_the_200_and_its_answer_from_the_ack(
    call_pbx: PbxProcess, callee_port: int, workdir: Path, receiver: EventReceiver
) -> None:
    call_pbx.login(port=receiver.port)
    callee = answer(call_pbx, callee_port, workdir)
    caller = DialogCaller(call_pbx, "2001")
    try:
        caller.send_invite("2002", headers="Supported: 100rel\r\n")
        responses = caller.responses_until(200)
        assert all(not r.body for r in responses[:-1])  # no offer in unreliable 1xx
        # (and unreliable they are: without an offer, ours goes in the 200)
        assert all(r.headers.get("RSeq") is None for r in responses)
        ok = responses[-1]
        assert ok.status == 200
        (audio,) = parse_sdp(ok.body).media
        assert audio.formats[:1] == ["0"]  # the callee's PCMU first: no transcoding
        assert set(audio.formats) == {"0", "8", "9", "101"}
        caller.ack(ANSWER)  # it takes PCMA: the worker transcodes
        query = call_pbx.api("call/query", {"type": "internal"}, token=call_pbx.login())
        assert query["status"] == "Success", query
        assert caller.request("BYE", cseq=3).status == 200
        callee.finish()
    finally:
        caller.close()
        callee.kill()
    cdr = new_cdr(receiver)
    assert (cdr["callfrom"], cdr["callto"], cdr["status"]) == ("2001", "2002", "ANSWERED")


@pytest.mark.parametrize("ack_body", [b"", b"v=0\r\nrubbish"], ids=["no-sdp", "garbage"])
def test_an_ack_without_a_usable_answer_hangs_up_both_legs(
    call_pbx: PbxProcess,
    callee_port: int,
    workdir: Path,
    receiver: EventReceiver,
    ack_body: bytes,
) -> None:
    call_pbx.login(port=receiver.port)
    callee = answer(call_pbx, callee_port, workdir)  # it gets the PBX's BYE
    caller = DialogCaller(call_pbx, "2001")
    try:
        caller.send_invite("2002")
        assert caller.responses_until(200)[-1].status == 200
        caller.ack(ack_body)
        caller.wait_request("BYE")
        callee.finish()
    finally:
        caller.close()
        callee.kill()
    events = receiver.wait_for(lambda evs: any(e.get("event") == "NewCdr" for e in evs))
    cdr = new_cdr(receiver)
    assert (cdr["callfrom"], cdr["callto"], cdr["status"]) == ("2001", "2002", "NO ANSWER")
    failed = [e for e in events if e.get("event") == "CallFailed"]
    assert len(failed) == 1, events


def test_a_caller_supporting_100rel_gets_a_reliable_180_until_it_pracks(
    call_pbx: PbxProcess, callee_port: int, workdir: Path
) -> None:
    callee = answer(call_pbx, callee_port, workdir, scenario="uas_ring.xml")
    caller = DialogCaller(call_pbx, "2001")
    try:
        caller.send_invite("2002", SDP, "Supported: 100rel, timer\r\n")
        ringing = caller.responses_until(180)[-1]
        assert ringing.status == 180
        assert ringing.headers.get("Require") == "100rel"
        rseq = int(ringing.headers.get("RSeq") or "0")
        assert 1 <= rseq < 2**31
        again = caller.responses_until(180, timeout=3)[-1]  # not PRACKed: sent again
        assert (again.status, again.headers.get("RSeq")) == (180, str(rseq))
        assert caller.prack(f"{rseq + 1} 2 INVITE", cseq=3).status == 481
        assert caller.prack(f"{rseq} 2 INVITE", cseq=4).status == 200
        caller.stray.clear()
        with pytest.raises(TimeoutError):  # PRACKed: no more 180s
            caller.responses_until(180, timeout=1.2)
        caller.cancel()
        final = caller.responses_until(487)[-1]
        assert final.status == 487
        caller.ack()
        callee.finish()
    finally:
        caller.close()
        callee.kill()


def test_a_caller_requiring_100rel_is_served_not_refused(
    call_pbx: PbxProcess, callee_port: int, workdir: Path
) -> None:
    callee = answer(call_pbx, callee_port, workdir)
    caller = DialogCaller(call_pbx, "2001")
    try:
        caller.send_invite("2002", SDP, "Require: 100rel\r\n")
        responses = caller.responses_until(180)
        ringing = responses[-1]
        assert ringing.status == 180, [r.status for r in responses]
        assert caller.prack(f"{ringing.headers.get('RSeq')} 2 INVITE", cseq=3).status == 200
        final = [*caller.stray, *caller.responses_until(200)][-1]
        assert final.status == 200
        caller.ack()
        assert caller.request("BYE", cseq=5).status == 200
        callee.finish()
    finally:
        caller.close()
        callee.kill()
