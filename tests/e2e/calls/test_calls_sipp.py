"""Calls between registered extensions through `kilopbx serve`, with sipp as both
phones: the caller authenticates with digest (407), the callee is found through its
registration, media is anchored in a worker."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.calls.peers import (
    answer,
    call,
    pbx_media_port,
    register,
    unregister,
    wait_bound,
)
from tests.e2e.calls.rtp_phone import RtpPhone, talk
from tests.e2e.calls.sip_client import SDP, Caller
from tests.harness import HOST, EventReceiver, PbxProcess, free_port, media_workers
from tests.media_audio import dominant_frequency, level

pytestmark = pytest.mark.peers
AUDIO_PT = {"PCMU": 0, "PCMA": 8, "G722": 9}


def test_call_answered_and_hung_up_by_caller(
    call_pbx: PbxProcess, callee_port: int, workdir: Path
) -> None:
    callee = answer(call_pbx, callee_port, workdir)
    try:
        call(call_pbx, "2001", "2002", workdir).finish()
        callee.finish()
    finally:
        callee.kill()


@pytest.mark.parametrize(
    ("caller_codec", "callee_codec", "nat"),
    [("PCMA", "PCMU", False), ("G722", "PCMU", True)],
    ids=["pcma-to-pcmu", "g722-to-pcmu-behind-nat"],
)
def test_audio_crosses_transcoded_both_ways(
    call_pbx: PbxProcess,
    callee_port: int,
    workdir: Path,
    caller_codec: str,
    callee_codec: str,
    nat: bool,
) -> None:
    """The caller sends 1 kHz, the callee 500 Hz, in codecs they do not share; each
    hears the other's tone, and the caller's DTMF digit reaches the callee. Behind NAT
    the callee's RTP comes from another port than its SDP names, and the PBX's worker
    latches onto it."""
    caller = RtpPhone(caller_codec, AUDIO_PT[caller_codec])
    callee = RtpPhone(callee_codec, AUDIO_PT[callee_codec])
    signalled = free_port(udp_too=True) if nat else callee.port
    uas = answer(call_pbx, callee_port, workdir, pts=str(callee.payload_type), rtp=signalled)
    try:
        uac = call(
            call_pbx,
            "2001",
            "2002",
            workdir,
            pts=str(caller.payload_type),
            rtp=caller.port,
            talk_ms=3000,
        )
        to_caller_leg = (HOST, pbx_media_port(workdir, "caller"))
        to_callee_leg = (HOST, pbx_media_port(workdir, "callee"))
        talk(caller, to_caller_leg, callee, to_callee_leg, a_hz=1000, b_hz=500, digit=5)
        uac.finish()
        uas.finish()
    finally:
        uas.kill()
        caller.close()
        callee.close()
    assert callee.digits == [5]  # the caller's key press, passed through as RFC 4733
    assert len(caller.received) >= 40 and len(callee.received) >= 40
    heard_by_caller = dominant_frequency(caller.decoded(), caller.rate)
    heard_by_callee = dominant_frequency(callee.decoded(), callee.rate)
    assert 450 < heard_by_caller < 550, heard_by_caller
    assert 950 < heard_by_callee < 1050, heard_by_callee
    assert callee.sources == {to_callee_leg} and caller.sources == {to_caller_leg}


def test_calls_that_cannot_be_made_get_their_answer(call_pbx: PbxProcess) -> None:
    caller = Caller(call_pbx, "2001")
    try:
        assert caller.invite("2999").status == 404  # no such number
        assert caller.invite("2003").status == 480  # exists, not registered
        g729_only = SDP.replace(b"RTP/AVP 0 101", b"RTP/AVP 18")
        assert caller.invite("2002", g729_only).status == 488
        assert caller.invite("2002", b"v=0\r\nnonsense").status == 488
    finally:
        caller.close()
    intruder = Caller(call_pbx, "2001", password="wrong")
    try:
        assert intruder.invite("2002").status == 403
    finally:
        intruder.close()


@pytest.mark.parametrize(
    ("caller_scenario", "callee_scenario"),
    [
        ("uac_wait_bye.xml", "uas_hangup.xml"),
        ("uac_wait_bye.xml", "uas_hold_hangup.xml"),
        ("uac_early.xml", "uas_early.xml"),
        ("uac_cancel.xml", "uas_ring.xml"),
        ("uac_busy.xml", "uas_busy.xml"),
    ],
    ids=[
        "bye-from-callee",
        "callee-holds-then-hangs-up",
        "early-media",
        "cancel-while-ringing",
        "busy",
    ],
)
def test_call_flow(
    call_pbx: PbxProcess,
    callee_port: int,
    workdir: Path,
    caller_scenario: str,
    callee_scenario: str,
) -> None:
    callee = answer(call_pbx, callee_port, workdir, scenario=callee_scenario)
    try:
        call(call_pbx, "2001", "2002", workdir, scenario=caller_scenario).finish()
        callee.finish()
    finally:
        callee.kill()


def test_live_call_in_the_api_and_hung_up_through_it(
    call_pbx: PbxProcess, callee_port: int, workdir: Path, receiver: EventReceiver
) -> None:
    token = call_pbx.login(port=receiver.port)
    callee = answer(call_pbx, callee_port, workdir)
    try:
        caller = call(call_pbx, "2001", "2002", workdir, scenario="uac_wait_bye.xml")

        def talking(calls: list[dict[str, Any]]) -> bool:  # not still ringing (a loaded box)
            return len(calls) == 1 and calls[0]["members"][-1]["ext"]["memberstatus"] == "ANSWER"

        calls = wait_for_calls(call_pbx, token, talking)
        members = [m["ext"] for m in calls[0]["members"]]
        assert [(m["number"], m["memberstatus"]) for m in members] == [
            ("2001", "ANSWERED"),
            ("2002", "ANSWER"),
        ]
        assert all(m["channelid"].startswith(f"PJSIP/{m['number']}-") for m in members)
        call_id = calls[0]["callid"]
        seconds, _, sequence = call_id.partition(".")
        assert seconds.isdigit() and sequence.isdigit()
        by_ext = call_pbx.api("extension/query_call", {"number": "2001,2003"}, token=token)
        assert by_ext["calllist"] == [
            {"number": "2001", "numbercalls": calls},
            {"number": "2003", "numbercalls": []},
        ]
        status = {
            e["number"]: e["status"]
            for e in call_pbx.api("extension/list", {}, token=token)["extlist"]
        }
        assert status["2001"] == "Busy" and status["2002"] == "Busy"
        answer_ = call_pbx.api("call/hangup", {"callid": call_id}, token=token)
        assert answer_ == {"status": "Success", "callid": call_id}
        caller.finish()  # both phones got our BYE and answered it
        callee.finish()
    finally:
        callee.kill()
    wait_for_calls(call_pbx, token, lambda calls: calls == [])

    def line_events(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
        named = [e for e in events if e.get("event") == "ExtensionStatus"]
        return [(e["extension"], e["status"]) for e in named]

    expected = [("2001", "Busy"), ("2002", "Ringing"), ("2002", "Busy"), ("2002", "Registered")]
    receiver.wait_for(lambda events: line_events(events) == expected)
    events = receiver.wait_for(lambda evs: any(e.get("event") == "NewCdr" for e in evs))
    of_call = [e for e in events if e.get("callid") == call_id]
    snapshots = [
        [m["ext"]["memberstatus"] for m in e["members"]]
        for e in of_call
        if e["event"] == "CallStatus"
    ]
    assert snapshots == [["ALERT", "RING"], ["ANSWERED", "ANSWER"], ["BYE", "BYE"]]
    (cdr,) = [e for e in of_call if e["event"] == "NewCdr"]
    assert of_call[-1] is cdr  # the record comes last
    assert (cdr["callfrom"], cdr["callto"], cdr["status"], cdr["type"]) == (
        "2001",
        "2002",
        "ANSWERED",
        "Internal",
    )
    unknown = call_pbx.api("call/query", {"callid": call_id}, token=token)
    assert unknown == {"status": "Failed", "errno": "10005"}
    unknown = call_pbx.api("call/hangup", {"channelid": "PJSIP/2001-ffffffff"}, token=token)
    assert unknown == {"status": "Failed", "errno": "10007"}


def answered(calls: list[dict[str, Any]]) -> bool:
    """One call, answered: the callee's member says ANSWER."""
    if len(calls) != 1 or len(calls[0]["members"]) != 2:
        return False
    return bool(calls[0]["members"][1]["ext"]["memberstatus"] == "ANSWER")


def wait_for_calls(
    pbx: PbxProcess, token: str, done: Callable[[list[dict[str, Any]]], bool]
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10.0
    while True:
        calls: list[dict[str, Any]] = pbx.api("call/query", {"type": "internal"}, token=token)[
            "calls"
        ]
        if done(calls) or time.monotonic() > deadline:
            assert done(calls), calls
            return calls
        time.sleep(0.05)


def test_hold_and_resume_then_audio_still_flows(
    call_pbx: PbxProcess, callee_port: int, workdir: Path
) -> None:
    caller = RtpPhone("PCMU", 0)
    callee = RtpPhone("PCMU", 0)
    uas = answer(call_pbx, callee_port, workdir, rtp=callee.port)
    try:
        uac = call(
            call_pbx,
            "2001",
            "2002",
            workdir,
            scenario="uac_hold.xml",
            pts="0",
            rtp=caller.port,
            talk_ms=2500,
        )
        to_caller_leg = (HOST, pbx_media_port(workdir, "caller"))
        to_callee_leg = (HOST, pbx_media_port(workdir, "callee"))
        wait_for_file(workdir / "held.txt")
        wait_for_file(workdir / "resumed.txt")
        callee.drain()  # what the callee heard on hold: the hold music, not silence
        on_hold, callee.received = callee.decoded(), []
        talk(caller, to_caller_leg, callee, to_callee_leg, a_hz=1000, b_hz=500)
        uac.finish()
        uas.finish()
    finally:
        uas.kill()
        caller.close()
        callee.close()
    assert 450 < dominant_frequency(caller.decoded(), caller.rate) < 550
    assert 950 < dominant_frequency(callee.decoded(), callee.rate) < 1050
    assert len(on_hold) > 1600 and level(on_hold) > 300  # the held time (0.2 s) had music


def wait_for_file(path: Path, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.read_text().strip()):
        assert time.monotonic() < deadline, f"{path.name} never came"
        time.sleep(0.05)


def test_a_crashed_media_worker_hangs_its_calls_up(
    call_pbx: PbxProcess, callee_port: int, workdir: Path, receiver: EventReceiver
) -> None:
    token = call_pbx.login(port=receiver.port)
    callee = answer(call_pbx, callee_port, workdir)
    try:
        caller = call(call_pbx, "2001", "2002", workdir, scenario="uac_wait_bye.xml")
        wait_for_calls(call_pbx, token, answered)
        wait_for_file(workdir / "caller-answered.txt")  # its 200 is out, not just decided
        (worker,) = media_workers(call_pbx)
        os.kill(worker, signal.SIGKILL)
        caller.finish()  # both sides got a BYE
        callee.finish()
    finally:
        callee.kill()
    wait_for_calls(call_pbx, token, lambda calls: calls == [])
    events = receiver.wait_for(lambda evs: any(e.get("event") == "NewCdr" for e in evs))
    (cdr,) = [e for e in events if e.get("event") == "NewCdr"]
    assert (cdr["callfrom"], cdr["status"]) == ("2001", "ANSWERED")  # a record all the same
    deadline = time.monotonic() + 10
    while media_workers(call_pbx) in ([], [worker]):  # restarted under a new pid
        assert time.monotonic() < deadline
        time.sleep(0.05)
    callee = answer(call_pbx, callee_port, workdir)  # and the new worker takes calls
    try:
        call(call_pbx, "2001", "2002", workdir).finish()
        callee.finish()
    finally:
        callee.kill()


def test_click_to_call_rings_the_caller_first(
    call_pbx: PbxProcess, callee_port: int, workdir: Path
) -> None:
    token = call_pbx.login()
    caller_port = free_port(udp_too=True)
    register(call_pbx, "2001", caller_port, workdir)
    try:
        caller = answer(call_pbx, caller_port, workdir)
        callee = answer(call_pbx, callee_port, workdir)
        try:
            wait_bound(caller_port)
            wait_bound(callee_port)
            request = {"caller": "2001", "callee": 2002, "autoanswer": "yes"}
            dialled = call_pbx.api("call/dial", request, token=token)
            assert dialled["status"] == "Success", dialled
            calls = wait_for_calls(
                call_pbx,
                token,
                lambda calls: (
                    len(calls) == 1
                    and len(calls[0]["members"]) == 2
                    and calls[0]["members"][1]["ext"]["memberstatus"] == "ANSWER"
                ),
            )
            assert calls[0]["callid"] == dialled["callid"]
            call_pbx.api("call/hangup", {"callid": dialled["callid"]}, token=token)
            caller.finish()
            callee.finish()
        finally:
            caller.kill()
            callee.kill()
        refused = call_pbx.api("call/dial", {"caller": "2003", "callee": "2002"}, token=token)
        assert refused == {"status": "Failed", "errno": "10008"}  # not registered
        refused = call_pbx.api("call/dial", {"caller": "2001", "callee": "2999"}, token=token)
        assert refused == {"status": "Failed", "errno": "10011"}
        refused = call_pbx.api("call/dial", {"caller": "2001"}, token=token)
        assert refused == {"status": "Failed", "errno": "10004"}
        odd = {"caller": "2001", "callee": "2002", "autoanswer": "maybe"}
        assert call_pbx.api("call/dial", odd, token=token)["errno"] == "10004"
    finally:
        unregister(call_pbx, "2001", caller_port, workdir)


def test_session_timer_asked_for_is_granted_or_refused(
    call_pbx: PbxProcess, callee_port: int, workdir: Path
) -> None:
    caller = Caller(call_pbx, "2001")
    callee = answer(call_pbx, callee_port, workdir)
    try:
        short = "Supported: timer\r\nSession-Expires: 30\r\n"
        refused = caller.invite("2002", headers=short)
        assert (refused.status, refused.headers.get("Min-SE")) == (422, "90")
        asked = "Supported: timer\r\nSession-Expires: 120;refresher=uac\r\n"
        granted = caller.invite("2002", headers=asked, cseq=10)  # hung up at once
        assert granted.status == 200
        assert granted.headers.get("Session-Expires") == "120;refresher=uac"
        assert "timer" in (granted.headers.get("Require") or "")
        callee.finish()
    finally:
        callee.kill()
        caller.close()
