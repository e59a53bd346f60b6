"""call/hold, call/unhold, call/mute and call/unmute on a live call between two sipp
phones whose audio the test sends and decodes itself: the held phone gets re-INVITEs
(sendonly, then sendrecv) and hears hold music instead of the other party, who hears
nothing; audio crosses both ways again after;
a muted phone is heard by nobody but still hears. Errors answer the spec's errno."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.calls.peers import answer, call, pbx_media_port, register, unregister
from tests.e2e.calls.rtp_phone import RtpPhone, talk
from tests.harness import HOST, EventReceiver, PbxProcess, free_port
from tests.media_audio import dominant_frequency

pytestmark = pytest.mark.peers


def live_call(pbx: PbxProcess, token: str, statuses: list[str]) -> dict[str, Any]:
    """The one live call once its members show ``statuses`` (bounded wait)."""
    deadline = time.monotonic() + 10.0
    while True:
        calls = pbx.api("call/query", {"type": "internal"}, token=token)["calls"]
        shown = [[m["ext"]["memberstatus"] for m in c["members"]] for c in calls]
        if shown == [statuses]:
            return dict(calls[0])
        assert time.monotonic() < deadline, calls
        time.sleep(0.05)


def fresh(*phones: RtpPhone) -> None:
    for phone in phones:
        phone.drain()
        phone.received.clear()


def heard(phone: RtpPhone) -> float:
    assert len(phone.received) >= 20, len(phone.received)
    return dominant_frequency(phone.decoded(), phone.rate)


def test_hold_unhold_mute_unmute_with_audio_checked(
    call_pbx: PbxProcess, callee_port: int, workdir: Path, receiver: EventReceiver
) -> None:
    token = call_pbx.login(port=receiver.port)
    caller, callee = RtpPhone("PCMU", 0), RtpPhone("PCMU", 0)
    uas = answer(call_pbx, callee_port, workdir, scenario="uas_held.xml", rtp=callee.port)
    try:
        uac = call(
            call_pbx, "2001", "2002", workdir, scenario="uac_media_wait_bye.xml", rtp=caller.port
        )
        current = live_call(call_pbx, token, ["ANSWERED", "ANSWER"])
        call_id = current["callid"]
        a, b = (m["ext"]["channelid"] for m in current["members"])
        to_a = (HOST, pbx_media_port(workdir, "caller"))
        to_b = (HOST, pbx_media_port(workdir, "callee"))

        def api(name: str, channel: str) -> dict[str, Any]:
            return call_pbx.api(name, {"channelid": channel}, token=token)

        # the caller holds: the callee is held (re-INVITE sendonly) and nobody hears
        assert api("call/hold", a) == {"status": "Success", "callid": call_id}
        live_call(call_pbx, token, ["ANSWERED", "HOLD"])
        assert api("call/hold", a) == {"status": "Success", "callid": call_id}  # no change
        fresh(caller, callee)
        talk(caller, to_a, callee, to_b, a_hz=1000, b_hz=500, milliseconds=1000)
        assert caller.received == []  # the holder hears nothing of the held party
        assert len(callee.received) >= 20  # the held party hears hold music, not the caller
        assert not 950 < dominant_frequency(callee.decoded(), callee.rate) < 1050

        # the held party's channel releases the hold (re-INVITE sendrecv): audio again
        assert api("call/unhold", b) == {"status": "Success", "callid": call_id}
        live_call(call_pbx, token, ["ANSWERED", "ANSWER"])
        assert api("call/unhold", b) == {"status": "Failed", "errno": "10007"}  # no hold
        fresh(caller, callee)
        talk(caller, to_a, callee, to_b, a_hz=1000, b_hz=500, milliseconds=1000)
        assert 450 < heard(caller) < 550 and 950 < heard(callee) < 1050

        # mute the caller: the callee hears nothing, the caller still hears the callee
        assert api("call/mute", f"{a} , ") == {"status": "Success", "callid": call_id}
        fresh(caller, callee)
        talk(caller, to_a, callee, to_b, a_hz=1000, b_hz=500, milliseconds=600)
        assert callee.received == [] and 450 < heard(caller) < 550
        both = f"{a},{b}"
        assert api("call/unmute", both) == {"status": "Success", "callid": call_id}
        fresh(caller, callee)
        talk(caller, to_a, callee, to_b, a_hz=1000, b_hz=500, milliseconds=600)
        assert 950 < heard(callee) < 1050
        # one unknown channel in the list: nothing is muted
        assert api("call/mute", f"{a},PJSIP/2003-ffffffff")["errno"] == "10007"
        fresh(caller, callee)
        talk(caller, to_a, callee, to_b, a_hz=1000, b_hz=500, milliseconds=600)
        assert 950 < heard(callee) < 1050

        assert call_pbx.api("call/hangup", {"callid": call_id}, token=token)["status"] == (
            "Success"
        )
        uac.finish()
        uas.finish()  # it checked both re-INVITEs' directions
    finally:
        uas.kill()
        caller.close()
        callee.close()
    live_call_gone(call_pbx, token)
    for name in ("call/hold", "call/unhold", "call/mute", "call/unmute"):
        assert api(name, a) == {"status": "Failed", "errno": "10007"}, name

    events = receiver.wait_for(lambda evs: any(e.get("event") == "NewCdr" for e in evs))
    snapshots = [
        [m["ext"]["memberstatus"] for m in e["members"]]
        for e in events
        if e.get("event") == "CallStatus" and e.get("callid") == call_id
    ]
    assert snapshots == [
        ["ALERT", "RING"],
        ["ANSWERED", "ANSWER"],
        ["ANSWERED", "HOLD"],
        ["ANSWERED", "ANSWER"],
        ["BYE", "BYE"],
    ]


def live_call_gone(pbx: PbxProcess, token: str) -> None:
    deadline = time.monotonic() + 10.0
    while pbx.api("call/query", {"type": "internal"}, token=token)["calls"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_hold_of_a_ringing_call_and_bad_input(
    call_pbx: PbxProcess, callee_port: int, workdir: Path
) -> None:
    token = call_pbx.login()
    for name in ("call/hold", "call/unhold", "call/mute", "call/unmute"):
        for body in ({"x": "1"}, {"channelid": ""}, {"channelid": None}, {"channelid": []}):
            assert call_pbx.api(name, body, token=token)["errno"] == "10004", (name, body)
        for channel in ("PJSIP/2001-00000000", "x" * 5000, "'; DROP TABLE--", "\u0000\u202e"):
            answer_ = call_pbx.api(name, {"channelid": channel}, token=token)
            assert answer_ == {"status": "Failed", "errno": "10007"}, (name, channel)
    assert call_pbx.api("call/mute", {"channelid": ",,,"}, token=token)["errno"] == "10004"
    many = ",".join(["PJSIP/2001-00000000"] * 40)
    assert call_pbx.api("call/mute", {"channelid": many}, token=token)["errno"] == "10004"

    uas = answer(call_pbx, callee_port, workdir, scenario="uas_ring.xml")
    try:
        uac = call(call_pbx, "2001", "2002", workdir, scenario="uac_cancel.xml", talk_ms=4000)
        current = live_call(call_pbx, token, ["ALERT", "RING"])
        a, b = (m["ext"]["channelid"] for m in current["members"])
        for channel in (a, b):
            answer_ = call_pbx.api("call/hold", {"channelid": channel}, token=token)
            assert answer_ == {"status": "Failed", "errno": "10015"}
        # the caller may be muted while it rings; the ringing callee has no media yet
        assert call_pbx.api("call/mute", {"channelid": a}, token=token)["status"] == "Success"
        assert call_pbx.api("call/mute", {"channelid": b}, token=token)["errno"] == "10015"
        uac.finish()
        uas.finish()
    finally:
        uas.kill()


@pytest.mark.parametrize("kept", ["caller", "callee"])
def test_blind_transfer_through_the_api_keeps_the_call_and_its_audio(
    call_pbx: PbxProcess, callee_port: int, workdir: Path, receiver: EventReceiver, kept: str
) -> None:
    """2001 calls 2002; call/transfer sends ``kept`` to 2003 and releases the other:
    the call id stays, the released phone gets a BYE, the kept one talks to 2003."""
    token = call_pbx.login(port=receiver.port)
    target_port = free_port(udp_too=True)
    target_dir = workdir / "target"
    target_dir.mkdir()
    register(call_pbx, "2003", target_port, target_dir)
    caller, callee, target = RtpPhone("PCMU", 0), RtpPhone("PCMU", 0), RtpPhone("PCMA", 8)
    uas = answer(call_pbx, callee_port, workdir, rtp=callee.port)
    uas_target = answer(call_pbx, target_port, target_dir, pts="8", rtp=target.port)
    try:
        uac = call(
            call_pbx, "2001", "2002", workdir, scenario="uac_media_wait_bye.xml", rtp=caller.port
        )
        current = live_call(call_pbx, token, ["ANSWERED", "ANSWER"])
        call_id = current["callid"]
        a, b = (m["ext"]["channelid"] for m in current["members"])
        stays, stays_phone = (a, caller) if kept == "caller" else (b, callee)
        leaves = uas if kept == "caller" else uac
        to_stays = (HOST, pbx_media_port(workdir, kept))
        body = {"channelid": stays, "number": "2003"}
        assert call_pbx.api("call/transfer", body, token=token) == {
            "status": "Success",
            "callid": call_id,
        }
        leaves.finish()  # the released phone got our BYE and answered it
        moved = live_call(call_pbx, token, ["ANSWERED", "ANSWER"])
        assert moved["callid"] == call_id
        numbers = [m["ext"]["number"] for m in moved["members"]]
        assert numbers == ["2001" if kept == "caller" else "2002", "2003"]
        to_target = (HOST, pbx_media_port(target_dir, "callee"))
        fresh(stays_phone, target)
        talk(stays_phone, to_stays, target, to_target, a_hz=1000, b_hz=700, milliseconds=1000)
        assert 650 < heard(stays_phone) < 750 and 950 < heard(target) < 1050
        assert call_pbx.api("call/hangup", {"callid": call_id}, token=token)["status"] == (
            "Success"
        )
        uac.finish()
        uas.finish()
        uas_target.finish()
    finally:
        for phone in (uas, uas_target):
            phone.kill()
        for rtp in (caller, callee, target):
            rtp.close()
        unregister(call_pbx, "2003", target_port, target_dir)
    live_call_gone(call_pbx, token)
    events = receiver.wait_for(lambda evs: any(e.get("event") == "NewCdr" for e in evs))
    of_call = [e for e in events if e.get("callid") == call_id]
    assert not [e for e in of_call if e["event"] == "Tranfer"]  # not for API transfers
    (cdr,) = [e for e in of_call if e["event"] == "NewCdr"]
    assert cdr["status"] == "ANSWERED"
    snapshots = [
        [(m["ext"]["number"], m["ext"]["memberstatus"]) for m in e["members"]]
        for e in of_call
        if e["event"] == "CallStatus"
    ]
    kept_number = "2001" if kept == "caller" else "2002"
    gone = "2002" if kept == "caller" else "2001"
    assert sorted(snapshots[2]) == sorted([(kept_number, "ALERT"), (gone, "BYE")])
    assert snapshots[3:] == [
        [(kept_number, "ALERT"), ("2003", "RING")],
        [(kept_number, "ANSWERED"), ("2003", "ANSWER")],
        [(kept_number, "BYE"), ("2003", "BYE")],
    ], snapshots
    assert snapshots[1] == [("2001", "ANSWERED"), ("2002", "ANSWER")]


def test_transfer_refusals(call_pbx: PbxProcess, callee_port: int, workdir: Path) -> None:
    token = call_pbx.login()
    unknown = {"channelid": "PJSIP/2001-00000000", "number": "2003"}
    assert call_pbx.api("call/transfer", unknown, token=token)["errno"] == "10007"
    for body in ({"channelid": "PJSIP/2001-00000000"}, {"number": "2003"}):
        assert call_pbx.api("call/transfer", body, token=token)["errno"] == "10004"
    uas = answer(call_pbx, callee_port, workdir)
    try:
        uac = call(call_pbx, "2001", "2002", workdir, scenario="uac_media_wait_bye.xml")
        current = live_call(call_pbx, token, ["ANSWERED", "ANSWER"])
        a = current["members"][0]["ext"]["channelid"]
        for number in ("2999", "x" * 100, "*97", "2003\u0000"):
            body = {"channelid": a, "number": number}
            assert call_pbx.api("call/transfer", body, token=token)["errno"] == "10011", number
        live_call(call_pbx, token, ["ANSWERED", "ANSWER"])  # nothing changed
        call_pbx.api("call/hangup", {"callid": current["callid"]}, token=token)
        uac.finish()
        uas.finish()
    finally:
        uas.kill()
    live_call_gone(call_pbx, token)
