"""call/listen (listen, whisper, barge) and call/add_member on live calls between sipp
phones whose audio the test sends and analyses itself: each of three phones plays its
own tone, and the frequencies each one hears tell who hears whom through the PBX's
mix. The supervisor's and the invited party's phones are rung by the PBX (a third
sipp answering). Errors answer the spec's errno."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.calls.peers import Sipp, answer, call, pbx_media_port, register, unregister
from tests.e2e.calls.rtp_phone import FRAME_MS, RtpPhone
from tests.harness import HOST, EventReceiver, PbxProcess, free_port
from tests.media_audio import goertzel

pytestmark = pytest.mark.peers

CALLER_HZ, AGENT_HZ, THIRD_HZ, CONTROL_HZ = 500, 1000, 1500, 2300


@pytest.fixture
def ports(call_pbx: PbxProcess, workdir: Path) -> Iterator[tuple[int, int]]:
    """2002 (the callee, the agent) and 2003 (the supervisor, the third party)."""
    agent, third = free_port(udp_too=True), free_port(udp_too=True)
    register(call_pbx, "2002", agent, workdir)
    register(call_pbx, "2003", third, workdir)
    yield agent, third
    unregister(call_pbx, "2002", agent, workdir)
    unregister(call_pbx, "2003", third, workdir)


def members(pbx: PbxProcess, token: str, statuses: list[str]) -> dict[str, Any]:
    """The one live call once its members show ``statuses`` (bounded wait)."""
    deadline = time.monotonic() + 15.0
    while True:
        calls = pbx.api("call/query", {"type": "internal"}, token=token)["calls"]
        shown = [[m["ext"]["memberstatus"] for m in c["members"]] for c in calls]
        if shown == [statuses]:
            return dict(calls[0])
        assert time.monotonic() < deadline, calls
        time.sleep(0.05)


def no_calls(pbx: PbxProcess, token: str) -> None:
    deadline = time.monotonic() + 15.0
    while pbx.api("call/query", {"type": "internal"}, token=token)["calls"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def talk3(phones: list[tuple[RtpPhone, tuple[str, int], int]], milliseconds: int = 1200) -> None:
    """Every phone sends its tone at the real pace; each collects what it hears."""
    for phone, _, _ in phones:
        phone.drain()
        phone.received.clear()
    frames = [phone.frames(hz, milliseconds) for phone, _, hz in phones]
    start = time.monotonic()
    for index in range(len(frames[0])):
        for (phone, to, _), payloads in zip(phones, frames, strict=True):
            phone.send(to, payloads[index], index)
        for phone, _, _ in phones:
            phone.drain()
        pause = start + (index + 1) * FRAME_MS / 1000 - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    deadline = time.monotonic() + 0.4
    while time.monotonic() < deadline:
        for phone, _, _ in phones:
            phone.drain()
        time.sleep(0.02)


def hears(phone: RtpPhone) -> set[int]:
    """The test tones present in what ``phone`` received: each well above the
    control frequency nobody plays, and within 20 dB of the loudest."""
    pcm = phone.decoded()
    assert len(pcm) >= 2 * 8000 * 0.4, len(pcm)  # at least 0.4 s came back
    powers = {hz: goertzel(pcm, phone.rate, hz) for hz in (CALLER_HZ, AGENT_HZ, THIRD_HZ)}
    control = goertzel(pcm, phone.rate, CONTROL_HZ)
    loudest = max(powers.values())
    return {hz for hz, p in powers.items() if p > 50 * control and p > loudest / 100}


def start_call(
    pbx: PbxProcess, workdir: Path, agent_port: int, caller: RtpPhone, agent: RtpPhone
) -> tuple[Sipp, Sipp]:
    uas = answer(pbx, agent_port, workdir, rtp=agent.port)
    uac = call(pbx, "2001", "2002", workdir, scenario="uac_media_wait_bye.xml", rtp=caller.port)
    return uac, uas


def third_phone(pbx: PbxProcess, workdir: Path, port: int, phone: RtpPhone) -> tuple[Sipp, Path]:
    """2003's sipp, answering in its own directory (its PBX media port file)."""
    where = workdir / "third"
    where.mkdir(exist_ok=True)
    return answer(pbx, port, where, rtp=phone.port), where


def allow_monitoring(pbx: PbxProcess, token: str, mode: str = "Extensive") -> None:
    ok = {"status": "Success"}
    update = {"number": "2002", "allowbeingmonitored": "on"}
    assert pbx.api("extension/update", update, token=token) == ok
    assert pbx.api("extension/update", {"number": "2003", "monitormode": mode}, token=token) == ok


def test_listen_whisper_barge_heard_by_the_right_phones(
    call_pbx: PbxProcess, ports: tuple[int, int], workdir: Path, receiver: EventReceiver
) -> None:
    token = call_pbx.login(port=receiver.port)
    allow_monitoring(call_pbx, token)
    caller, agent, boss = RtpPhone("PCMU", 0), RtpPhone("PCMU", 0), RtpPhone("PCMU", 0)
    uac, uas = start_call(call_pbx, workdir, ports[0], caller, agent)
    boss_sipp, boss_dir = third_phone(call_pbx, workdir, ports[1], boss)
    try:
        current = members(call_pbx, token, ["ANSWERED", "ANSWER"])
        call_id = current["callid"]
        request = {"monitor": "2003", "extension": "2002", "type": "listen"}
        assert call_pbx.api("call/listen", request, token=token) == {
            "status": "Success",
            "callid": call_id,
        }
        current = members(call_pbx, token, ["ANSWERED", "ANSWER", "ANSWER"])
        assert [m["ext"]["number"] for m in current["members"]] == ["2001", "2002", "2003"]
        phones = [
            (caller, (HOST, pbx_media_port(workdir, "caller")), CALLER_HZ),
            (agent, (HOST, pbx_media_port(workdir, "callee")), AGENT_HZ),
            (boss, (HOST, pbx_media_port(boss_dir, "callee")), THIRD_HZ),
        ]

        talk3(phones)  # listen: the supervisor hears both, nobody hears it
        assert hears(boss) == {CALLER_HZ, AGENT_HZ}
        assert hears(caller) == {AGENT_HZ} and hears(agent) == {CALLER_HZ}

        # a second monitor on the same agent: not idle
        extensive = {"number": "2001", "monitormode": "Extensive"}
        assert call_pbx.api("extension/update", extensive, token=token)["status"] == "Success"
        other = {"monitor": "2001", "extension": "2002", "type": "listen"}
        assert call_pbx.api("call/listen", other, token=token)["errno"] == "10008"

        request["type"] = "whisper"  # the same monitor switches mode on its live listen
        assert call_pbx.api("call/listen", request, token=token)["callid"] == call_id
        talk3(phones)
        assert hears(agent) == {CALLER_HZ, THIRD_HZ}
        assert hears(caller) == {AGENT_HZ}
        assert hears(boss) == {CALLER_HZ, AGENT_HZ}

        request["type"] = "barge"
        assert call_pbx.api("call/listen", request, token=token)["callid"] == call_id
        talk3(phones)
        assert hears(agent) == {CALLER_HZ, THIRD_HZ}
        assert hears(caller) == {AGENT_HZ, THIRD_HZ}
        assert hears(boss) == {CALLER_HZ, AGENT_HZ}

        # the supervisor hangs up (through the API): the two talk on as before
        boss_channel = current["members"][2]["ext"]["channelid"]
        hangup = {"channelid": boss_channel}
        assert call_pbx.api("call/hangup", hangup, token=token)["status"] == "Success"
        members(call_pbx, token, ["ANSWERED", "ANSWER"])
        talk3(phones[:2])
        assert hears(caller) == {AGENT_HZ} and hears(agent) == {CALLER_HZ}
        boss_sipp.finish()

        assert call_pbx.api("call/hangup", {"callid": call_id}, token=token)["status"] == (
            "Success"
        )
        uac.finish()
        uas.finish()
    finally:
        for process in (uac, uas, boss_sipp):
            process.kill()
        for phone in (caller, agent, boss):
            phone.close()
    no_calls(call_pbx, token)
    events = receiver.wait_for(
        lambda evs: any(e.get("event") == "NewCdr" and e.get("callid") == call_id for e in evs)
    )
    snapshots = [
        [(m["ext"]["number"], m["ext"]["memberstatus"]) for m in e["members"]]
        for e in events
        if e.get("event") == "CallStatus" and e.get("callid") == call_id
    ]
    assert [("2001", "ANSWERED"), ("2002", "ANSWER"), ("2003", "RING")] in snapshots
    assert [("2001", "ANSWERED"), ("2002", "ANSWER"), ("2003", "ANSWER")] in snapshots
    assert [("2001", "ANSWERED"), ("2002", "ANSWER"), ("2003", "BYE")] in snapshots
    assert snapshots[-1] == [("2001", "BYE"), ("2002", "BYE")]
    cdrs = [e for e in events if e.get("event") == "NewCdr" and e.get("callid") == call_id]
    assert len(cdrs) == 1


def test_three_way_call_where_each_hears_the_other_two(
    call_pbx: PbxProcess, ports: tuple[int, int], workdir: Path, receiver: EventReceiver
) -> None:
    token = call_pbx.login(port=receiver.port)
    legacy = EventReceiver().start()
    call_pbx.login_legacy(port=legacy.port)
    caller, agent, third = RtpPhone("PCMU", 0), RtpPhone("PCMU", 0), RtpPhone("PCMU", 0)
    uac, uas = start_call(call_pbx, workdir, ports[0], caller, agent)
    third_sipp, third_dir = third_phone(call_pbx, workdir, ports[1], third)
    try:
        current = members(call_pbx, token, ["ANSWERED", "ANSWER"])
        call_id = current["callid"]
        first = current["members"][0]["ext"]["channelid"]
        invite = {"channelid": first, "number": "2003"}
        assert call_pbx.api("call/add_member", invite, token=token) == {
            "status": "Success",
            "callid": call_id,
        }
        members(call_pbx, token, ["ANSWERED", "ANSWER", "ANSWER"])
        phones = [
            (caller, (HOST, pbx_media_port(workdir, "caller")), CALLER_HZ),
            (agent, (HOST, pbx_media_port(workdir, "callee")), AGENT_HZ),
            (third, (HOST, pbx_media_port(third_dir, "callee")), THIRD_HZ),
        ]
        talk3(phones)
        assert hears(caller) == {AGENT_HZ, THIRD_HZ}
        assert hears(agent) == {CALLER_HZ, THIRD_HZ}
        assert hears(third) == {CALLER_HZ, AGENT_HZ}
        # the same extension again: it is in the call already
        assert call_pbx.api("call/add_member", invite, token=token)["errno"] == "10008"
        # transfer and park need a two-party call (hold: test_conference_hold.py)
        assert call_pbx.api("call/callpark", {"channelid": first}, token=token)["errno"] == (
            "10015"
        )
        transfer = {"channelid": first, "number": "2001"}
        assert call_pbx.api("call/transfer", transfer, token=token)["errno"] == "10015"

        # the first caller leaves: the other two go on talking in the same call
        assert call_pbx.api("call/hangup", {"channelid": first}, token=token)["status"] == (
            "Success"
        )
        members(call_pbx, token, ["ANSWER", "ANSWER"])
        uac.finish()  # it got its BYE
        talk3(phones[1:])
        assert hears(agent) == {THIRD_HZ} and hears(third) == {AGENT_HZ}

        # then the third leaves too: the one left alone is hung up, the call ends
        current = members(call_pbx, token, ["ANSWER", "ANSWER"])
        last = current["members"][1]["ext"]["channelid"]
        assert call_pbx.api("call/hangup", {"channelid": last}, token=token)["status"] == (
            "Success"
        )
        no_calls(call_pbx, token)
        uas.finish()
        third_sipp.finish()
    finally:
        for process in (uac, uas, third_sipp):
            process.kill()
        for phone in (caller, agent, third):
            phone.close()
    events = receiver.wait_for(
        lambda evs: any(e.get("event") == "NewCdr" and e.get("callid") == call_id for e in evs)
    )
    snapshots = [
        [(m["ext"]["number"], m["ext"]["memberstatus"]) for m in e["members"]]
        for e in events
        if e.get("event") == "CallStatus" and e.get("callid") == call_id
    ]
    assert [("2001", "ANSWERED"), ("2002", "ANSWER"), ("2003", "ANSWER")] in snapshots
    assert [("2001", "BYE"), ("2002", "ANSWER"), ("2003", "ANSWER")] in snapshots
    assert snapshots[-1] == [("2002", "BYE"), ("2003", "BYE")]
    cdrs = [e for e in events if e.get("event") == "NewCdr" and e.get("callid") == call_id]
    assert len(cdrs) == 1

    # the legacy format: one report per member change, the member named first
    legacy.wait_for(lambda evs: any(e.get("action") == "NewCdr" for e in evs))
    legacy.stop()
    reports = [legacy_report(body) for body in legacy.bodies]
    reports = [(a, party) for a, call, party in reports if call == call_id and a != "NewCdr"]
    joined = reports.index(("RING", "2003"))
    answered = [("ALERT", "2001"), ("RING", "2002"), ("ANSWERED", "2001"), ("ANSWER", "2002")]
    assert reports[:joined] == answered, reports  # the member came once it was answered
    assert reports[joined + 1 : joined + 3] == [("ANSWER", "2003"), ("BYE", "2001")], reports
    assert sorted(reports[joined + 3 :]) == [("BYE", "2002"), ("BYE", "2003")], reports


def legacy_report(body: bytes) -> tuple[str, str, str]:
    """(action, callid, the extension named first) of a legacy call report."""
    pairs = json.loads(body, object_pairs_hook=list)
    fields = dict(pairs)  # a report may repeat "ext": the first one is the member
    party = next((dict(v).get("extid", "") for k, v in pairs if k == "ext"), "")
    return str(fields.get("action", "")), str(fields.get("callid", "")), str(party)


def test_errors_answer_the_spec_errno(
    call_pbx: PbxProcess, ports: tuple[int, int], workdir: Path
) -> None:
    token = call_pbx.login()
    allow_monitoring(call_pbx, token, mode="Listen")
    disabled = {"number": "2001", "monitormode": "Disabled"}
    assert call_pbx.api("extension/update", disabled, token=token)["status"] == "Success"

    def listen(**body: Any) -> str:
        return str(call_pbx.api("call/listen", body, token=token).get("errno"))

    def add(**body: Any) -> str:
        return str(call_pbx.api("call/add_member", body, token=token).get("errno"))

    # malformed, missing, oversized, hostile
    assert listen() == "20007"  # an empty body
    assert listen(monitor="2003", extension="2002") == "10004"
    assert listen(monitor="2003", extension="2002", type="spy") == "10004"
    assert listen(monitor="2003", extension="2002", type=["listen"]) == "10004"
    assert listen(monitor="2003", extension="2002", type="x" * 5000) == "10004"
    assert listen(monitor="9" * 5000, extension="2002", type="listen") == "10006"
    assert listen(monitor="2999", extension="2002", type="listen") == "10006"
    assert listen(monitor="2003", extension="'; DROP TABLE x", type="listen") == "10006"
    assert listen(monitor=2003, extension=2001, type="listen") == "10009"  # numbers work
    assert listen(monitor="2003", extension="2002", type="barge") == "10010"
    assert listen(monitor="2001", extension="2002", type="listen") == "10010"  # Disabled
    assert listen(monitor="2003", extension="2002", type="listen") == "10007"  # no call
    assert add() == "20007"
    assert add(channelid="PJSIP/2001-00000001") == "10004"
    assert add(channelid="PJSIP/2001-00000001", number="  ") == "10028"
    assert add(channelid="PJSIP/2001-00000001", number="2003") == "10007"
    assert add(channelid="x" * 5000, number="2003") == "10007"
    assert add(channelid={"a": 1}, number="2003") == "10004"

    # on a live call: wrong member, wrong state, unreachable target
    ringing = answer(call_pbx, ports[0], workdir, scenario="uas_ring.xml")
    uac = call(call_pbx, "2001", "2002", workdir, scenario="uac_cancel.xml", talk_ms=4000)
    try:
        current = members(call_pbx, token, ["ALERT", "RING"])
        caller = current["members"][0]["ext"]["channelid"]
        assert add(channelid=caller, number="2003") == "10015"  # not answered yet
        assert listen(monitor="2003", extension="2002", type="listen") == "10007"
    finally:
        uac.kill()
        ringing.kill()
    no_calls_or_hang_up(call_pbx, token)

    agent_sipp = answer(call_pbx, ports[0], workdir)
    uac = call(call_pbx, "2001", "2002", workdir, scenario="uac_media_wait_bye.xml")
    try:
        current = members(call_pbx, token, ["ANSWERED", "ANSWER"])
        caller = current["members"][0]["ext"]["channelid"]
        assert add(channelid=caller, number="2999") == "10011"
        # a number outside goes through the outbound routes: this PBX has none
        assert add(channelid=caller, number="6175550123") == "10031"
        assert add(channelid=caller, number="2" * 40) == "10011"
        assert add(channelid=caller, number="2002") == "10008"  # in the call already
        unregister(call_pbx, "2003", ports[1], workdir)  # unreachable now
        assert add(channelid=caller, number="2003") == "10008"
        assert listen(monitor="2003", extension="2002", type="listen") == "10008"
        register(call_pbx, "2003", ports[1], workdir)
        call_pbx.api("call/hangup", {"callid": current["callid"]}, token=token)
        uac.finish()
        agent_sipp.finish()
    finally:
        uac.kill()
        agent_sipp.kill()
    no_calls(call_pbx, token)


def no_calls_or_hang_up(pbx: PbxProcess, token: str) -> None:
    for live in pbx.api("call/query", {"type": "internal"}, token=token)["calls"]:
        pbx.api("call/hangup", {"callid": live["callid"]}, token=token)
    no_calls(pbx, token)


def test_an_invitee_that_refuses_changes_nothing(
    call_pbx: PbxProcess, ports: tuple[int, int], workdir: Path, receiver: EventReceiver
) -> None:
    token = call_pbx.login(port=receiver.port)
    caller, agent = RtpPhone("PCMU", 0), RtpPhone("PCMU", 0)
    uac, uas = start_call(call_pbx, workdir, ports[0], caller, agent)
    where = workdir / "third"
    where.mkdir()
    busy = answer(call_pbx, ports[1], where, scenario="uas_busy.xml")
    try:
        current = members(call_pbx, token, ["ANSWERED", "ANSWER"])
        call_id = current["callid"]
        invite = {"channelid": current["members"][1]["ext"]["channelid"], "number": "2003"}
        assert call_pbx.api("call/add_member", invite, token=token)["callid"] == call_id
        busy.finish()  # it answered 486
        members(call_pbx, token, ["ANSWERED", "ANSWER"])
        phones = [
            (caller, (HOST, pbx_media_port(workdir, "caller")), CALLER_HZ),
            (agent, (HOST, pbx_media_port(workdir, "callee")), AGENT_HZ),
        ]
        talk3(phones)
        assert hears(caller) == {AGENT_HZ} and hears(agent) == {CALLER_HZ}
        assert call_pbx.api("call/hangup", {"callid": call_id}, token=token)["status"] == (
            "Success"
        )
        uac.finish()
        uas.finish()
    finally:
        for process in (uac, uas, busy):
            process.kill()
        caller.close()
        agent.close()
    events = receiver.wait_for(
        lambda evs: any(e.get("event") == "NewCdr" and e.get("callid") == call_id for e in evs)
    )
    snapshots = [
        [(m["ext"]["number"], m["ext"]["memberstatus"]) for m in e["members"]]
        for e in events
        if e.get("event") == "CallStatus" and e.get("callid") == call_id
    ]
    assert snapshots[-3:] == [
        [("2001", "ANSWERED"), ("2002", "ANSWER"), ("2003", "RING")],
        [("2001", "ANSWERED"), ("2002", "ANSWER"), ("2003", "BYE")],
        [("2001", "BYE"), ("2002", "BYE")],
    ], snapshots
