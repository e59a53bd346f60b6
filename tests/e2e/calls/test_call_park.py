"""Parking and pickup on a PBX of its own (park timeout 3 s): call/callpark holds one
party on a slot (hold music) and releases the other; call/callpark_status lists it; a
phone dialling *71<slot> (or the slot number alone), or rung by call/dial to the slot,
picks it up in the same call and the two hear each other; a call nobody picks up rings
its parker back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.calls.conftest import call_pbx_with
from tests.e2e.calls.dialog_phone import TalkingCaller
from tests.e2e.calls.peers import answer, call, pbx_media_port, register, shown, unregister
from tests.e2e.calls.rtp_phone import RtpPhone, talk
from tests.e2e.calls.sip_client import Caller
from tests.harness import HOST, PbxProcess, free_port
from tests.media_audio import dominant_frequency

pytestmark = pytest.mark.peers


@pytest.fixture(scope="module")
def call_pbx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PbxProcess]:
    yield from call_pbx_with(tmp_path_factory, {"KILOPBX_CALL_PARK_TIMEOUT": "3"})


@pytest.mark.parametrize("dialled", ["*717005", "7005"], ids=["code", "slot-alone"])
def test_park_then_retrieve_by_feature_code(
    call_pbx: PbxProcess, callee_port: int, workdir: Path, dialled: str
) -> None:
    """Retrieved by ``*71<slot>`` or by the slot's number alone."""
    token = call_pbx.login()
    parked, retriever = RtpPhone("PCMU", 0), RtpPhone("PCMU", 0)
    uas = answer(call_pbx, callee_port, workdir)
    retrieving_dir = workdir / "retriever"
    retrieving_dir.mkdir()
    try:
        uac = call(
            call_pbx, "2001", "2002", workdir, scenario="uac_media_wait_bye.xml", rtp=parked.port
        )
        current = shown(call_pbx, token, [("2001", "ANSWERED"), ("2002", "ANSWER")])
        call_id, a = current["callid"], current["members"][0]["ext"]["channelid"]
        body = {"channelid": a, "parkingslot": "7005"}
        assert call_pbx.api("call/callpark", body, token=token) == {
            "status": "Success",
            "parkingslot": "7005",
        }
        uas.finish()  # the other party was released
        shown(call_pbx, token, [("2001", "HOLD")])
        status = call_pbx.api("call/callpark_status", {}, token=token)
        assert status == {
            "status": "Success",
            "parkinfos": [
                {
                    "parker": "2002",
                    "parkedparty": "2001",
                    "parkingslot": "7005",
                    "parktime": "3",
                    "channelid": a,
                }
            ],
        }
        taken = call_pbx.api("call/callpark", {"channelid": a, "parkingslot": "7006"}, token=token)
        assert taken["errno"] == "10015"  # parked already: not connected
        to_parked = (HOST, pbx_media_port(workdir, "caller"))
        parked.drain()
        parked.received.clear()
        time.sleep(0.5)
        parked.drain()
        assert len(parked.received) >= 10  # hold music while parked

        pickup = call(
            call_pbx,
            "2003",
            dialled,
            retrieving_dir,
            scenario="uac_media_wait_bye.xml",
            rtp=retriever.port,
        )
        now = shown(call_pbx, token, [("2001", "ANSWERED"), ("2003", "ANSWER")])
        assert now["callid"] == call_id
        assert call_pbx.api("call/callpark_status", {}, token=token)["parkinfos"] == []
        to_retriever = (HOST, pbx_media_port(retrieving_dir, "caller"))
        time.sleep(0.1)  # the music's last frames, still on their way
        parked.drain()
        parked.received.clear()
        talk(parked, to_parked, retriever, to_retriever, a_hz=1000, b_hz=600, milliseconds=1000)
        assert 550 < dominant_frequency(parked.decoded(), parked.rate) < 650
        assert 950 < dominant_frequency(retriever.decoded(), retriever.rate) < 1050
        call_pbx.api("call/hangup", {"callid": call_id}, token=token)
        uac.finish()
        pickup.finish()
    finally:
        uas.kill()
        parked.close()
        retriever.close()
    phone = Caller(call_pbx, "2003")
    try:
        assert phone.invite(dialled).status == 404  # nothing parked there now
        assert phone.invite("*719999").status == 404  # no such slot
    finally:
        phone.close()


def test_park_then_retrieve_by_the_api(
    call_pbx: PbxProcess, callee_port: int, workdir: Path
) -> None:
    """call/dial from 2003 to the slot's number: 2003's phone rings, answers and
    talks to the parked party in the same call."""
    token = call_pbx.login()
    parked, retriever = RtpPhone("PCMU", 0), RtpPhone("PCMU", 0)
    retrieving_dir = workdir / "retriever"
    retrieving_dir.mkdir()
    retriever_port = free_port(udp_too=True)
    register(call_pbx, "2003", retriever_port, retrieving_dir)
    uas = answer(call_pbx, callee_port, workdir)
    phone = answer(call_pbx, retriever_port, retrieving_dir, rtp=retriever.port)
    uac = call(
        call_pbx, "2001", "2002", workdir, scenario="uac_media_wait_bye.xml", rtp=parked.port
    )
    try:
        current = shown(call_pbx, token, [("2001", "ANSWERED"), ("2002", "ANSWER")])
        call_id, a = current["callid"], current["members"][0]["ext"]["channelid"]
        body = {"channelid": a, "parkingslot": "7006"}
        assert call_pbx.api("call/callpark", body, token=token)["status"] == "Success"
        uas.finish()
        shown(call_pbx, token, [("2001", "HOLD")])
        empty = call_pbx.api("call/dial", {"caller": "2003", "callee": "7007"}, token=token)
        assert empty == {"status": "Failed", "errno": "10011"}  # nothing parked there
        dialled = call_pbx.api("call/dial", {"caller": "2003", "callee": "7006"}, token=token)
        assert dialled == {"status": "Success", "callid": call_id}
        now = shown(call_pbx, token, [("2001", "ANSWERED"), ("2003", "ANSWER")])
        assert now["callid"] == call_id
        assert call_pbx.api("call/callpark_status", {}, token=token)["parkinfos"] == []
        to_parked = (HOST, pbx_media_port(workdir, "caller"))
        to_retriever = (HOST, pbx_media_port(retrieving_dir, "callee"))
        time.sleep(0.1)  # the music's last frames, still on their way
        parked.drain()
        parked.received.clear()
        talk(parked, to_parked, retriever, to_retriever, a_hz=1000, b_hz=600, milliseconds=1000)
        assert 550 < dominant_frequency(parked.decoded(), parked.rate) < 650
        assert 950 < dominant_frequency(retriever.decoded(), retriever.rate) < 1050
        call_pbx.api("call/hangup", {"callid": call_id}, token=token)
        uac.finish()
        phone.finish()
    finally:
        for process in (uac, uas, phone):
            process.kill()
        parked.close()
        retriever.close()
        unregister(call_pbx, "2003", retriever_port, retrieving_dir)


def test_park_refusals(call_pbx: PbxProcess) -> None:
    token = call_pbx.login()
    unknown = {"channelid": "PJSIP/2001-00000000", "parkingslot": "7001"}
    assert call_pbx.api("call/callpark", unknown, token=token)["errno"] == "10007"
    assert call_pbx.api("call/callpark", {"parkingslot": "7001"}, token=token)["errno"] == "10004"
    assert call_pbx.api("call/callpark_status", {}, token=token) == {
        "status": "Success",
        "parkinfos": [],
    }


def test_a_call_nobody_retrieves_rings_the_parker(
    call_pbx: PbxProcess, callee_port: int, workdir: Path
) -> None:
    token = call_pbx.login()
    uas = answer(call_pbx, callee_port, workdir)
    try:
        uac = call(call_pbx, "2001", "2002", workdir, scenario="uac_media_wait_bye.xml")
        current = shown(call_pbx, token, [("2001", "ANSWERED"), ("2002", "ANSWER")])
        call_id, a = current["callid"], current["members"][0]["ext"]["channelid"]
        body = {"channelid": a, "parkingslot": "9999"}
        assert call_pbx.api("call/callpark", body, token=token)["errno"] == "10011"
        answer_ = call_pbx.api("call/callpark", {"channelid": a}, token=token)
        assert answer_ == {"status": "Success", "parkingslot": "7001"}  # the first free one
        uas.finish()
        uas = answer(call_pbx, callee_port, workdir)  # 2002 answers the ring-back
        parked_at = time.monotonic()
        back = shown(call_pbx, token, [("2001", "ANSWERED"), ("2002", "ANSWER")])
        assert back["callid"] == call_id and time.monotonic() - parked_at > 1.5
        call_pbx.api("call/hangup", {"callid": call_id}, token=token)
        uac.finish()
        uas.finish()
    finally:
        uas.kill()


def test_a_phone_parks_its_partner_by_refer_to_the_park_code(
    call_pbx: PbxProcess, callee_port: int, workdir: Path
) -> None:
    token = call_pbx.login()
    uas = answer(call_pbx, callee_port, workdir)
    phone = TalkingCaller(call_pbx, "2001")
    try:
        phone.establish("2002")
        current = shown(call_pbx, token, [("2001", "ANSWERED"), ("2002", "ANSWER")])
        b = current["members"][1]["ext"]["channelid"]
        refer_to = f"Refer-To: <sip:*70@{HOST}:{call_pbx.sip_port}>\r\n"
        assert phone.in_dialog("REFER", refer_to).status == 202
        fragments = [phone.next_request().body.strip() for _ in range(2)]
        assert fragments == [b"SIP/2.0 100 Trying", b"SIP/2.0 200 OK"]
        assert phone.next_request().method == "BYE"
        shown(call_pbx, token, [("2002", "HOLD")])
        (info,) = call_pbx.api("call/callpark_status", {}, token=token)["parkinfos"]
        assert (info["parker"], info["parkedparty"], info["channelid"]) == ("2001", "2002", b)
        call_pbx.api("call/hangup", {"callid": current["callid"]}, token=token)
        uas.finish()
    finally:
        uas.kill()
        phone.close()


def test_directed_pickup_answers_a_call_ringing_another_extension(
    call_pbx: PbxProcess, callee_port: int, workdir: Path
) -> None:
    token = call_pbx.login()
    caller, picker = RtpPhone("PCMU", 0), RtpPhone("PCMU", 0)
    ringing = answer(call_pbx, callee_port, workdir, scenario="uas_ring.xml")
    picking_dir = workdir / "picker"
    picking_dir.mkdir()
    try:
        probe = Caller(call_pbx, "2003")
        try:
            assert probe.invite("**2002").status == 404  # nothing rings there yet
        finally:
            probe.close()
        uac = call(
            call_pbx, "2001", "2002", workdir, scenario="uac_media_wait_bye.xml", rtp=caller.port
        )
        ringing_call = shown(call_pbx, token, [("2001", "ALERT"), ("2002", "RING")])
        pickup = call(
            call_pbx,
            "2003",
            "**2002",
            picking_dir,
            scenario="uac_media_wait_bye.xml",
            rtp=picker.port,
        )
        now = shown(call_pbx, token, [("2001", "ANSWERED"), ("2003", "ANSWER")])
        assert now["callid"] == ringing_call["callid"]
        ringing.finish()  # the phone that rang got a CANCEL
        to_caller = (HOST, pbx_media_port(workdir, "caller"))
        to_picker = (HOST, pbx_media_port(picking_dir, "caller"))
        talk(caller, to_caller, picker, to_picker, a_hz=1000, b_hz=600, milliseconds=1000)
        assert 550 < dominant_frequency(caller.decoded(), caller.rate) < 650
        assert 950 < dominant_frequency(picker.decoded(), picker.rate) < 1050
        call_pbx.api("call/hangup", {"callid": now["callid"]}, token=token)
        uac.finish()
        pickup.finish()
    finally:
        ringing.kill()
        caller.close()
        picker.close()
