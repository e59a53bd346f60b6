"""Attended transfer through the API between three sipp phones whose audio the test
sends and decodes itself: 2001 (the transferor) talks to 2002, consults 2003 while
2002 is held, swaps between the two, joins all three (each hears the other two),
and completes (2002 and 2003 talk, 2001 gets a
BYE) or aborts (2003 is dropped, 2001 and 2002 talk again). Every stage's audio is
checked by frequency; the call keeps its callid; the CallStatus events (and the
legacy reports) say who left and who joined; refusals answer the spec's errno."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.calls.dialog_phone import TalkingCaller
from tests.e2e.calls.peers import answer, call, pbx_media_port, register, shown, unregister
from tests.e2e.calls.rtp_phone import RtpPhone, talk
from tests.harness import HOST, EventReceiver, PbxProcess, free_port
from tests.media_audio import dominant_frequency, goertzel

pytestmark = pytest.mark.peers

Members = list[tuple[str, str]]


@pytest.fixture
def held_port(call_pbx: PbxProcess, workdir: Path) -> Iterator[int]:
    port = free_port(udp_too=True)
    register(call_pbx, "2002", port, workdir)
    yield port
    unregister(call_pbx, "2002", port, workdir)


@pytest.fixture
def target_dir(call_pbx: PbxProcess, workdir: Path) -> Iterator[Path]:
    """2003 registered from a port of its own; its sipp runs in this directory."""
    directory = workdir / "target"
    directory.mkdir()
    port = free_port(udp_too=True)
    register(call_pbx, "2003", port, directory)
    (directory / "port").write_text(str(port))
    yield directory
    unregister(call_pbx, "2003", port, directory)


def gone(pbx: PbxProcess, token: str) -> None:
    deadline = time.monotonic() + 10.0
    while pbx.api("call/query", {"type": "internal"}, token=token)["calls"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def hears(
    a: RtpPhone, a_to: tuple[str, int], b: RtpPhone, b_to: tuple[str, int]
) -> tuple[float, float]:
    """What ``a`` and ``b`` hear of each other (a sends 1000 Hz, b 600 Hz)."""
    for phone in (a, b):
        phone.drain()
        phone.received.clear()
    talk(a, a_to, b, b_to, a_hz=1000, b_hz=600, milliseconds=1000)
    assert len(a.received) >= 20 and len(b.received) >= 20, (len(a.received), len(b.received))
    return dominant_frequency(a.decoded(), a.rate), dominant_frequency(b.decoded(), b.rate)


def three_talk(phones: list[tuple[RtpPhone, tuple[str, int], int]]) -> list[dict[int, float]]:
    """All three send their tone at once for a second; the power each heard at each
    of the three frequencies (Goertzel)."""
    for phone, _, _ in phones:
        phone.drain()
        phone.received.clear()
    frames = [phone.frames(hz, 1000) for phone, _, hz in phones]
    start = time.monotonic()
    for index in range(len(frames[0])):
        for (phone, to, _), own in zip(phones, frames, strict=True):
            phone.send(to, own[index], index)
            phone.drain()
        pause = start + (index + 1) * 0.02 - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline:
        for phone, _, _ in phones:
            phone.drain()
        time.sleep(0.02)
    heard = []
    for phone, _, _ in phones:
        assert len(phone.received) >= 20, len(phone.received)
        pcm = phone.decoded()
        heard.append({hz: goertzel(pcm, phone.rate, hz) for _, _, hz in phones})
    return heard


def test_consult_swap_and_complete_with_audio_checked(
    call_pbx: PbxProcess,
    held_port: int,
    target_dir: Path,
    workdir: Path,
    receiver: EventReceiver,
) -> None:
    token = call_pbx.login(port=receiver.port)
    legacy = EventReceiver().start()
    call_pbx.login_legacy(port=legacy.port)
    transferor, held, target = RtpPhone("PCMU", 0), RtpPhone("PCMU", 0), RtpPhone("PCMU", 0)
    target_port = int((target_dir / "port").read_text())
    held_uas = answer(call_pbx, held_port, workdir, scenario="uas_held_twice.xml", rtp=held.port)
    target_uas = answer(call_pbx, target_port, target_dir, rtp=target.port)
    try:
        uac = call(
            call_pbx, "2001", "2002", workdir, scenario="uac_media_wait_bye.xml",
            rtp=transferor.port,
        )  # fmt: skip
        current = shown(call_pbx, token, [("2001", "ANSWERED"), ("2002", "ANSWER")])
        call_id, b = current["callid"], current["members"][0]["ext"]["channelid"]
        a = current["members"][1]["ext"]["channelid"]
        to_b = (HOST, pbx_media_port(workdir, "caller"))
        to_a = (HOST, pbx_media_port(workdir, "callee"))

        def operate(operation: str) -> dict[str, Any]:
            body = {"channelid": b, "operate": operation}
            return call_pbx.api("call/attended_transfer_operate", body, token=token)

        started = call_pbx.api(
            "call/attended_transfer", {"channelid": b, "tonumber": 2003}, token=token
        )
        assert started == {"status": "Success", "callid": call_id}
        consulted = shown(
            call_pbx, token, [("2001", "ANSWERED"), ("2002", "HOLD"), ("2003", "ANSWER")]
        )
        c = consulted["members"][2]["ext"]["channelid"]
        assert consulted["callid"] == call_id and c.startswith("PJSIP/2003-")
        again = {"channelid": b, "tonumber": "2003"}
        assert call_pbx.api("call/attended_transfer", again, token=token)["errno"] == "10008"
        moving = {"channelid": a, "number": "2003"}  # only the transfer moves the call now
        assert call_pbx.api("call/transfer", moving, token=token)["errno"] == "10008"
        assert call_pbx.api("call/callpark", {"channelid": a}, token=token)["errno"] == "10008"
        joining = {"channelid": b, "number": "2004"}  # no conference during a consultation
        assert call_pbx.api("call/add_member", joining, token=token)["errno"] == "10008"
        to_c = (HOST, pbx_media_port(target_dir, "callee"))
        b_hears, c_hears = hears(transferor, to_b, target, to_c)
        assert 550 < b_hears < 650 and 950 < c_hears < 1050  # the transferor talks to 2003

        assert operate("swap") == {"status": "Success", "callid": call_id}
        shown(call_pbx, token, [("2001", "ANSWERED"), ("2002", "ANSWER"), ("2003", "HOLD")])
        b_hears, a_hears = hears(transferor, to_b, held, to_a)
        assert 550 < b_hears < 650 and 950 < a_hears < 1050  # back with 2002

        assert operate("swap") == {"status": "Success", "callid": call_id}
        shown(call_pbx, token, [("2001", "ANSWERED"), ("2002", "HOLD"), ("2003", "ANSWER")])
        b_hears, c_hears = hears(transferor, to_b, target, to_c)
        assert 550 < b_hears < 650 and 950 < c_hears < 1050

        assert operate("threeway") == {"status": "Success", "callid": call_id}  # A resumes
        shown(call_pbx, token, [("2001", "ANSWERED"), ("2002", "ANSWER"), ("2003", "ANSWER")])
        phones = {"2001": (transferor, to_b, 1000), "2002": (held, to_a, 600),
                  "2003": (target, to_c, 1400)}  # fmt: skip
        heard = three_talk(list(phones.values()))
        for (number, (_, _, own)), powers in zip(phones.items(), heard, strict=True):
            first, second = (powers[hz] for _, _, hz in phones.values() if hz != own)
            # each hears both others about as loud, and not itself
            assert min(first, second) > 0.1 * max(first, second), (number, powers)
            assert min(first, second) > 20 * powers[own], (number, powers)

        assert operate("complete") == {"status": "Success", "callid": call_id}
        uac.finish()  # the transferor got its BYE
        final = shown(call_pbx, token, [("2002", "ANSWERED"), ("2003", "ANSWER")])
        assert final["callid"] == call_id
        assert [m["ext"]["channelid"] for m in final["members"]] == [a, c]
        a_hears, c_hears = hears(held, to_a, target, to_c)
        assert 550 < a_hears < 650 and 950 < c_hears < 1050  # 2002 and 2003 talk
        assert operate("abort") == {"status": "Failed", "errno": "10007"}  # it is over

        statuses = [
            [(m["ext"]["number"], m["ext"]["memberstatus"]) for m in e["members"]]
            for e in receiver.named("CallStatus")
            if e["callid"] == call_id
        ]
        assert [("2001", "BYE"), ("2002", "ANSWERED"), ("2003", "ANSWER")] in statuses
        assert not receiver.named("Tranfer")  # none for the API's transfers (80 §4.6)
        assert call_pbx.api("call/hangup", {"callid": call_id}, token=token)["status"] == (
            "Success"
        )
        held_uas.finish()  # it checked all four re-INVITEs' directions
        target_uas.finish()
    finally:
        held_uas.kill()
        target_uas.kill()
        for phone in (transferor, held, target):
            phone.close()
        legacy.stop()
    gone(call_pbx, token)
    cdrs = receiver.wait_for(lambda events: any(e.get("event") == "NewCdr" for e in events))
    records = [e for e in cdrs if e.get("event") == "NewCdr" and e.get("callid") == call_id]
    assert len(records) == 1 and records[0]["status"] == "ANSWERED"
    # the legacy reports say the same: the target rang and answered, the transferor left
    # (parties of one kind repeat the key in the legacy format: read the raw bodies)
    reports = [b.decode() for b in legacy.bodies if call_id.encode() in b]
    reports = [(json.loads(r)["action"], r) for r in reports]
    assert any(action == "RING" and '"2003"' in text for action, text in reports)
    assert any(action == "BYE" and '"2001"' in text for action, text in reports)
    assert not any(action == "Tranfer" for action, _ in reports)


def test_abort_gives_the_held_party_back(
    call_pbx: PbxProcess, held_port: int, target_dir: Path, workdir: Path
) -> None:
    token = call_pbx.login()
    transferor, held = RtpPhone("PCMU", 0), RtpPhone("PCMU", 0)
    target_port = int((target_dir / "port").read_text())
    held_uas = answer(call_pbx, held_port, workdir, scenario="uas_held.xml", rtp=held.port)
    target_uas = answer(call_pbx, target_port, target_dir, scenario="uas_ring.xml")
    try:
        uac = call(
            call_pbx, "2001", "2002", workdir, scenario="uac_media_wait_bye.xml",
            rtp=transferor.port,
        )  # fmt: skip
        current = shown(call_pbx, token, [("2001", "ANSWERED"), ("2002", "ANSWER")])
        call_id, b = current["callid"], current["members"][0]["ext"]["channelid"]
        body = {"channelid": b, "tonumber": "2003"}
        assert call_pbx.api("call/attended_transfer", body, token=token)["status"] == "Success"
        shown(call_pbx, token, [("2001", "ANSWERED"), ("2002", "HOLD"), ("2003", "RING")])
        operate = {"channelid": b, "operate": "swap"}
        answer_ = call_pbx.api("call/attended_transfer_operate", operate, token=token)
        assert answer_["errno"] == "10015"  # 2003 has not answered
        operate["operate"] = "abort"
        answer_ = call_pbx.api("call/attended_transfer_operate", operate, token=token)
        assert answer_ == {"status": "Success", "callid": call_id}
        target_uas.finish()  # its INVITE was cancelled
        shown(call_pbx, token, [("2001", "ANSWERED"), ("2002", "ANSWER")])
        to_b = (HOST, pbx_media_port(workdir, "caller"))
        to_a = (HOST, pbx_media_port(workdir, "callee"))
        b_hears, a_hears = hears(transferor, to_b, held, to_a)
        assert 550 < b_hears < 650 and 950 < a_hears < 1050
        call_pbx.api("call/hangup", {"callid": call_id}, token=token)
        uac.finish()
        held_uas.finish()
    finally:
        held_uas.kill()
        target_uas.kill()
        transferor.close()
        held.close()
    gone(call_pbx, token)


def test_complete_while_the_target_rings(
    call_pbx: PbxProcess, held_port: int, target_dir: Path, workdir: Path
) -> None:
    """The held party hears the ringback tone, then talks to the target once it answers."""
    token = call_pbx.login()
    held, target = RtpPhone("PCMU", 0), RtpPhone("PCMU", 0)
    target_port = int((target_dir / "port").read_text())
    held_uas = answer(call_pbx, held_port, workdir, scenario="uas_held.xml", rtp=held.port)
    target_uas = answer(
        call_pbx, target_port, target_dir, scenario="uas_answer_late.xml", rtp=target.port
    )
    try:
        uac = call(call_pbx, "2001", "2002", workdir, scenario="uac_wait_bye.xml")
        current = shown(call_pbx, token, [("2001", "ANSWERED"), ("2002", "ANSWER")])
        call_id, b = current["callid"], current["members"][0]["ext"]["channelid"]
        body = {"channelid": b, "tonumber": "2003"}
        assert call_pbx.api("call/attended_transfer", body, token=token)["status"] == "Success"
        shown(call_pbx, token, [("2001", "ANSWERED"), ("2002", "HOLD"), ("2003", "RING")])
        operate = {"channelid": b, "operate": "complete"}
        answer_ = call_pbx.api("call/attended_transfer_operate", operate, token=token)
        assert answer_ == {"status": "Success", "callid": call_id}
        uac.finish()  # the transferor is released once the target answers
        shown(call_pbx, token, [("2002", "ANSWERED"), ("2003", "ANSWER")])
        to_a = (HOST, pbx_media_port(workdir, "callee"))
        to_c = (HOST, pbx_media_port(target_dir, "callee"))
        a_hears, c_hears = hears(held, to_a, target, to_c)
        assert 550 < a_hears < 650 and 950 < c_hears < 1050
        call_pbx.api("call/hangup", {"callid": call_id}, token=token)
        held_uas.finish()
        target_uas.finish()
    finally:
        held_uas.kill()
        target_uas.kill()
        held.close()
        target.close()
    gone(call_pbx, token)


def test_a_hang_up_during_the_consultation_releases_the_target(
    call_pbx: PbxProcess, held_port: int, target_dir: Path, workdir: Path
) -> None:
    token = call_pbx.login()
    target_port = int((target_dir / "port").read_text())
    held_uas = answer(call_pbx, held_port, workdir, scenario="uas_held.xml")
    target_uas = answer(call_pbx, target_port, target_dir)
    try:
        uac = call(call_pbx, "2001", "2002", workdir, scenario="uac_wait_bye.xml")
        current = shown(call_pbx, token, [("2001", "ANSWERED"), ("2002", "ANSWER")])
        call_id, b = current["callid"], current["members"][0]["ext"]["channelid"]
        body = {"channelid": b, "tonumber": "2003"}
        assert call_pbx.api("call/attended_transfer", body, token=token)["status"] == "Success"
        shown(call_pbx, token, [("2001", "ANSWERED"), ("2002", "HOLD"), ("2003", "ANSWER")])
        call_pbx.api("call/hangup", {"callid": call_id}, token=token)
        uac.finish()
        target_uas.finish()  # the consulted target got its BYE (or CANCEL)
    finally:
        held_uas.kill()
        target_uas.kill()
    gone(call_pbx, token)
    operate = {"channelid": b, "operate": "abort"}
    assert call_pbx.api("call/attended_transfer_operate", operate, token=token)["errno"] == "10007"


def test_a_target_that_does_not_answer_gives_the_held_party_back(
    call_pbx: PbxProcess, held_port: int, target_dir: Path, workdir: Path
) -> None:
    """The consultation rings for the target's own ring timeout (5 s here), then the
    target's INVITE is cancelled and the transferor talks to the held party again."""
    token = call_pbx.login()
    update = {"number": "2003", "ringtimeout": "5"}
    assert call_pbx.api("extension/update", update, token=token)["status"] == "Success"
    transferor, held = RtpPhone("PCMU", 0), RtpPhone("PCMU", 0)
    target_port = int((target_dir / "port").read_text())
    held_uas = answer(call_pbx, held_port, workdir, scenario="uas_held.xml", rtp=held.port)
    target_uas = answer(call_pbx, target_port, target_dir, scenario="uas_ring.xml")
    try:
        uac = call(
            call_pbx, "2001", "2002", workdir, scenario="uac_media_wait_bye.xml",
            rtp=transferor.port,
        )  # fmt: skip
        current = shown(call_pbx, token, [("2001", "ANSWERED"), ("2002", "ANSWER")])
        call_id, b = current["callid"], current["members"][0]["ext"]["channelid"]
        body = {"channelid": b, "tonumber": "2003"}
        started = time.monotonic()
        assert call_pbx.api("call/attended_transfer", body, token=token)["status"] == "Success"
        shown(call_pbx, token, [("2001", "ANSWERED"), ("2002", "HOLD"), ("2003", "RING")])
        target_uas.finish()  # cancelled after the ring timeout
        shown(call_pbx, token, [("2001", "ANSWERED"), ("2002", "ANSWER")])
        assert time.monotonic() - started > 4.0
        to_b = (HOST, pbx_media_port(workdir, "caller"))
        to_a = (HOST, pbx_media_port(workdir, "callee"))
        b_hears, a_hears = hears(transferor, to_b, held, to_a)
        assert 550 < b_hears < 650 and 950 < a_hears < 1050
        call_pbx.api("call/hangup", {"callid": call_id}, token=token)
        uac.finish()
        held_uas.finish()
    finally:
        held_uas.kill()
        target_uas.kill()
        transferor.close()
        held.close()
        call_pbx.api("extension/update", {"number": "2003", "ringtimeout": "30"}, token=token)
    gone(call_pbx, token)


def test_the_transferor_hanging_up_completes_the_transfer(
    call_pbx: PbxProcess, held_port: int, target_dir: Path, workdir: Path
) -> None:
    """A phone whose user consults and then simply hangs up has transferred the call."""
    token = call_pbx.login()
    held, target = RtpPhone("PCMU", 0), RtpPhone("PCMU", 0)
    target_port = int((target_dir / "port").read_text())
    held_uas = answer(call_pbx, held_port, workdir, scenario="uas_held.xml", rtp=held.port)
    target_uas = answer(call_pbx, target_port, target_dir, rtp=target.port)
    transferor = TalkingCaller(call_pbx, "2001")
    try:
        transferor.establish("2002")
        current = shown(call_pbx, token, [("2001", "ANSWERED"), ("2002", "ANSWER")])
        call_id, b = current["callid"], current["members"][0]["ext"]["channelid"]
        body = {"channelid": b, "tonumber": "2003"}
        assert call_pbx.api("call/attended_transfer", body, token=token)["status"] == "Success"
        shown(call_pbx, token, [("2001", "ANSWERED"), ("2002", "HOLD"), ("2003", "ANSWER")])
        assert transferor.in_dialog("BYE").status == 200
        final = shown(call_pbx, token, [("2002", "ANSWERED"), ("2003", "ANSWER")])
        assert final["callid"] == call_id
        to_a = (HOST, pbx_media_port(workdir, "callee"))
        to_c = (HOST, pbx_media_port(target_dir, "callee"))
        a_hears, c_hears = hears(held, to_a, target, to_c)
        assert 550 < a_hears < 650 and 950 < c_hears < 1050
        call_pbx.api("call/hangup", {"callid": call_id}, token=token)
        held_uas.finish()
        target_uas.finish()
    finally:
        held_uas.kill()
        target_uas.kill()
        for closing in (transferor, held, target):
            closing.close()
    gone(call_pbx, token)


def test_attended_transfer_refusals(call_pbx: PbxProcess, held_port: int, workdir: Path) -> None:
    token = call_pbx.login()

    def api(name: str, body: Any) -> str:
        return str(call_pbx.api(name, body, token=token).get("errno"))

    start, operate = "call/attended_transfer", "call/attended_transfer_operate"
    nobody = "PJSIP/2001-00000000"
    assert api(start, {"tonumber": "2003"}) == "10004"
    assert api(start, {"channelid": nobody}) == "10004"
    assert api(start, {"channelid": "", "tonumber": "2003"}) == "10004"
    assert api(start, {"channelid": nobody, "tonumber": "2003"}) == "10007"
    assert api(start, {"channelid": "x" * 5000, "tonumber": "2003"}) == "10007"
    assert api(start, {"channelid": ["PJSIP/2001"], "tonumber": "2003"}) == "10004"
    assert api(operate, {"channelid": nobody}) == "10004"
    assert api(operate, {"channelid": nobody, "operate": "merge"}) == "10004"
    assert api(operate, {"channelid": nobody, "operate": "COMPLETE"}) == "10004"
    assert api(operate, {"channelid": nobody, "operate": "complete"}) == "10007"

    uas = answer(call_pbx, held_port, workdir)
    try:
        uac = call(call_pbx, "2001", "2002", workdir, scenario="uac_wait_bye.xml")
        current = shown(call_pbx, token, [("2001", "ANSWERED"), ("2002", "ANSWER")])
        call_id, b = current["callid"], current["members"][0]["ext"]["channelid"]
        assert api(start, {"channelid": b, "tonumber": "2999"}) == "10011"  # no such extension
        assert api(start, {"channelid": b, "tonumber": "9" * 200}) == "10011"
        assert api(start, {"channelid": b, "tonumber": "2002"}) == "10011"  # in the call
        assert api(start, {"channelid": b, "tonumber": "2003"}) == "10011"  # not registered
        assert api(operate, {"channelid": b, "operate": "complete"}) == "10007"  # none started
        shown(call_pbx, token, [("2001", "ANSWERED"), ("2002", "ANSWER")])  # nothing changed
        call_pbx.api("call/hangup", {"callid": call_id}, token=token)
        uac.finish()
        uas.finish()
    finally:
        uas.kill()
    gone(call_pbx, token)
